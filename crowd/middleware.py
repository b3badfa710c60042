"""Framing for crowd pages only: a platform (MTurk's ExternalQuestion) shows them inside its own page.

Every other page keeps X-Frame-Options: DENY. The crowd pages, and the review pages when a crowd worker opens
them, answer with `Content-Security-Policy: frame-ancestors 'self' <VEIL_CROWD_FRAME_ANCESTORS>` instead.
Inside a frame of another site the browser sends a cookie only if it is SameSite=None and Secure, so over
HTTPS a crowd worker's session and CSRF cookies get those attributes. Over plain HTTP (development) Secure
cookies cannot be set, so framing across sites works only over HTTPS; a browser that blocks all third-party
cookies (Safari, or Chrome with that setting) still refuses them, and the worker must open Veil in its own tab.
"""

from __future__ import annotations

from django.conf import settings

from reviewer import policies

FRAMABLE = frozenset(
    {
        "crowd-join",
        "crowd-home",
        "crowd-hub",
        "crowd-instructions",
        "crowd-dataset-instructions",
        "crowd-qualify",
        "crowd-work",
        "crowd-done",
        "crowd-sign-in",
        "crowd-sign-in-link",
        "crowd-signed-out",
    }
)
# Review pages are framable only for crowd workers, who work on them inside the platform's frame.
FRAMABLE_FOR_CROWD = frozenset({"reviewer-home", "review-batch-start", "review-image"})


def framable_policy(policy: str) -> str:
    """The page's CSP (config/security.py) with frame-ancestors opened to the crowd platforms, which may also
    receive the completion form (MTurk's externalSubmit); every other directive stays as it was."""
    ancestors = frame_ancestors()
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    kept = [d for d in directives if d.split()[0] not in ("frame-ancestors", "form-action")]
    if directives:
        kept.append(f"form-action 'self' {ancestors.replace(chr(39) + 'self' + chr(39), '').strip()}".strip())
    kept.append(f"frame-ancestors {ancestors}")
    return "; ".join(kept)


def frame_ancestors() -> str:
    return " ".join(["'self'", *settings.VEIL_CROWD_FRAME_ANCESTORS])


class CrowdFrameMiddleware:
    """List it before SessionMiddleware: it edits the headers and cookies the inner middleware wrote."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        name = match.url_name if match else None
        user = getattr(request, "user", None)

        def is_crowd() -> bool:  # asked only when it matters: it costs a query for a reviewer
            return user is not None and policies.is_crowd_worker(user)

        if name in FRAMABLE or (name in FRAMABLE_FOR_CROWD and is_crowd()):
            response.xframe_options_exempt = True
            if response.has_header("X-Frame-Options"):
                del response["X-Frame-Options"]
            response["Content-Security-Policy"] = framable_policy(response.get("Content-Security-Policy", ""))
            if request.is_secure():
                self._third_party_cookies(response)
        elif request.is_secure() and self._sets_login_cookies(response) and is_crowd():
            self._third_party_cookies(response)
        return response

    @staticmethod
    def _sets_login_cookies(response) -> bool:
        return any(name in response.cookies for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME))

    @staticmethod
    def _third_party_cookies(response) -> None:
        for cookie in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            morsel = response.cookies.get(cookie)
            if morsel is not None and morsel.value:
                morsel["samesite"] = "None"
                morsel["secure"] = True
