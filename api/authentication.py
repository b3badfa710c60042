"""Tokens for scripts: `Authorization: Bearer veil_...`. Sessions stay for pages, with CSRF on."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from reviewer.services.tokens import token_user


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in (b"bearer", b"token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as: Authorization: Bearer <token>.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("This token is not valid.") from exc
        found = token_user(secret=secret)
        if found is None:
            raise exceptions.AuthenticationFailed(
                "This token is not valid (unknown, revoked, or its user is inactive)."
            )
        return found

    def authenticate_header(self, request):
        return 'Bearer realm="veil"'
