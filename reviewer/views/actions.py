"""One way for a page's button to do something: check the form, call the service, say what happened, redirect.

A view says where to go back to, which form checks the post (if any), which service call to make and what to say
when it worked; `page_action` does the rest the same way for every page:

- the form's errors, or a service's refusal (ServiceError), become one error message on the page it goes back to;
- work saved as queued while the task queue was down (BrokerUnavailable) is a warning on that work's own page,
  when the view says where that is (`queued`); otherwise it is a refusal like any other;
- what `done` returns is shown: a sentence (a success), a `(level, sentence)` pair, a list of those, or nothing;
- a post from the page's script (Accept: application/json) gets the same outcome as JSON when the view says how
  (`as_json`): `{"detail"}` with the refusal's status, or what `as_json` returns.

`run` may answer the request itself by returning a response: a page that must not be a redirect, such as a
password shown once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect

from reviewer.errors import ServiceError
from reviewer.forms import form_error_text
from reviewer.jobs import BrokerUnavailable

# Where to go: a URL, or a URL name and its arguments, as django.shortcuts.redirect takes them.
Where = str | tuple
Said = str | tuple[int, str] | list | None


def page_action(
    request,
    *,
    back: Where,
    run: Callable[[dict], Any],
    done: Callable[[Any], Said] | str | None = None,
    form: Form | None = None,
    to: Callable[[Any], Where] | None = None,
    queued: Callable[[BrokerUnavailable], Where] | None = None,
    as_json: Callable[[Any], dict] | None = None,
) -> HttpResponse:
    """Answer one action post. `run(cleaned_data)` (an empty dict without a form) calls the service; `done(result)`
    says what happened; `to(result)` is where to go when it worked (`back` by default)."""
    wants_json = as_json is not None and "application/json" in request.headers.get("Accept", "")
    if form is not None and not form.is_valid():
        return _refused(request, form_error_text(form), 400, back, wants_json)
    try:
        result = run(form.cleaned_data if form is not None else {})
    except BrokerUnavailable as exc:
        if queued is None:
            return _refused(request, exc.message, exc.http_status, back, wants_json)
        messages.warning(request, exc.message)
        return _go(queued(exc))
    except ServiceError as exc:
        return _refused(request, exc.message, exc.http_status, back, wants_json)
    if isinstance(result, HttpResponse):
        return result
    if wants_json:
        return JsonResponse(as_json(result))
    for level, text in _messages(done(result) if callable(done) else done):
        messages.add_message(request, level, text)
    return _go(to(result) if to is not None else back)


def _refused(request, text: str, status: int, back: Where, wants_json: bool) -> HttpResponse:
    if wants_json:
        return JsonResponse({"detail": text}, status=status)
    messages.error(request, text)
    return _go(back)


def _go(where: Where) -> HttpResponse:
    return redirect(*where) if isinstance(where, tuple) else redirect(where)


def _messages(said: Said) -> list[tuple[int, str]]:
    if not said:
        return []
    if isinstance(said, str):
        return [(messages.SUCCESS, said)]
    if isinstance(said, tuple):
        return [said]
    return [pair for item in said for pair in _messages(item)]
