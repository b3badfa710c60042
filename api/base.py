"""The one base for API views: admin endpoints inherit AdminView / AdminListView, reviewer ones ReviewerView.

They set the permission, the pagination, the filter and ordering style, and give two helpers every view uses:
`validated()` (a serializer's data or one 400 in the API's error shape) and `get_or_404()`.
"""

from __future__ import annotations

from django.db.models import Model, QuerySet
from rest_framework import generics
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from api.filters import Ordering, QueryFilter
from api.pagination import KeysetPagination, ListPagination
from api.permissions import IsSignedIn, IsVeilAdmin, IsVeilReviewer


def validated(serializer_class, data, **context) -> dict:
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def get_or_404(source: type[Model] | QuerySet, pk, what: str | None = None):
    queryset = source if isinstance(source, QuerySet) else source.objects.all()
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist as exc:
        name = what or queryset.model._meta.verbose_name
        raise NotFound(f"No such {name}.") from exc


class AdminView(APIView):
    permission_classes = [IsVeilAdmin]


class ReviewerView(APIView):
    permission_classes = [IsVeilReviewer]


class SignedInView(APIView):
    permission_classes = [IsSignedIn]


class _Listing:
    pagination_class = KeysetPagination
    filter_backends = [QueryFilter, Ordering]
    filters: dict = {}
    ordering_fields: tuple[str, ...] = ("id",)
    ordering = "-id"


class AdminListView(_Listing, generics.ListAPIView):
    permission_classes = [IsVeilAdmin]


class ReviewerListView(_Listing, generics.ListAPIView):
    permission_classes = [IsVeilReviewer]


def list_response(items: list, request, serialize) -> Response:
    """A page of a list built in Python, in the same shape as the keyset pages."""
    page, links = ListPagination().paginate(items, request)
    return Response({**links, "results": [serialize(item) for item in page]})
