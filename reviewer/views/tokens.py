"""My API tokens: create one (its secret shown once, on this response only), see them, revoke one."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer.errors import ServiceError
from reviewer.models import ApiToken
from reviewer.services.tokens import token_create, token_revoke
from reviewer.views.actions import page_action


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True, label="Name", help_text="What the token is for.")


def _page(request, *, form=None, secret=None, token=None, status=200):
    tokens = ApiToken.objects.filter(owner=request.user).order_by("-created_at", "-id")
    context = {"tokens": tokens, "form": form or TokenForm(), "secret": secret, "new_token": token}
    return render(request, "reviewer/account/tokens.html", context, status=status)


@login_required
def tokens_page(request):
    if request.method != "POST":
        return _page(request)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        token, secret = token_create(owner=request.user, name=form.cleaned_data["name"])
    except ServiceError as exc:
        form.add_error("name", exc.message)
        return _page(request, form=form, status=400)
    # Rendered, not redirected: the secret is never stored, so this response is the only place it appears.
    response = _page(request, secret=secret, token=token)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke_page(request, token_id: int):
    return page_action(
        request,
        back="account-tokens",
        run=lambda _: token_revoke(owner=request.user, token_id=token_id),
        done=lambda token: f"Token “{token.name}” is revoked; scripts using it now get 401.",
    )


urlpatterns = [
    path("account/tokens/", tokens_page, name="account-tokens"),
    path("account/tokens/<int:token_id>/revoke", token_revoke_page, name="account-token-revoke"),
]
