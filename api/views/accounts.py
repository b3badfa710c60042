"""People over HTTP: who I am, my API tokens, the users (admins), and the audit log (admins)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from api.base import AdminListView, SignedInView, validated
from api.filters import Filter, Ordering, QueryFilter
from api.pagination import KeysetPagination
from api.permissions import IsSignedIn
from api.serializers.accounts import (
    AuditEventSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    UserSerializer,
)
from reviewer.models import ApiToken, User
from reviewer.selectors import audit as audit_selectors
from reviewer.selectors import people as people_selectors
from reviewer.services.tokens import token_create, token_revoke


class MeView(SignedInView):
    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class UserListView(AdminListView):
    """Admins and reviewers."""

    serializer_class = UserSerializer
    filters = {
        "role": Filter("role", choices=tuple(User.Role.values)),
        "is_active": Filter("is_active", "boolean"),
    }
    ordering_fields = ("username", "id")
    ordering = "username"

    def get_queryset(self):
        return people_selectors.users_all()


class TokenListView(generics.ListAPIView):
    """GET: my tokens (live and revoked). POST {name}: create one; the secret is in this response only."""

    permission_classes = [IsSignedIn]
    serializer_class = TokenSerializer
    pagination_class = KeysetPagination
    filter_backends = [QueryFilter, Ordering]
    filters: dict = {}
    ordering_fields = ("id",)
    ordering = "-id"

    def get_queryset(self):
        return ApiToken.objects.filter(owner=self.request.user)

    @extend_schema(request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    def post(self, request):
        data = validated(TokenCreateSerializer, request.data)
        token, secret = token_create(owner=request.user, name=data["name"])
        token.token = secret
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenRevokeView(SignedInView):
    """Revoke one of my tokens (404 for anyone else's). Scripts using it get 401 from then on."""

    @extend_schema(request=None, responses=TokenSerializer)
    def post(self, request, pk: int):
        return Response(TokenSerializer(token_revoke(owner=request.user, token_id=pk)).data)


class AuditLogView(AdminListView):
    """Who did what to which object, newest first."""

    serializer_class = AuditEventSerializer
    filters = {
        "verb": Filter("verb", description="e.g. export.started"),
        "object_type": Filter("object_type", description="e.g. reviewer.image"),
        "object_id": Filter("object_id"),
        "actor": Filter("actor__username", description="A user name."),
    }

    def get_queryset(self):
        return audit_selectors.audit_events(audit_selectors.AuditFilter())


urlpatterns = [
    path("me/", MeView.as_view(), name="api-me"),
    path("users/", UserListView.as_view(), name="api-users"),
    path("tokens/", TokenListView.as_view(), name="api-tokens"),
    path("tokens/<int:pk>/revoke/", TokenRevokeView.as_view(), name="api-token-revoke"),
    path("audit-events/", AuditLogView.as_view(), name="api-audit-events"),
]
