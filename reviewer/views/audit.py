"""The audit log page: who did what, filtered, newest first, paged by keyset; the same rows as CSV."""

import json
from datetime import datetime

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode

from reviewer.forms.audit import AuditFilterForm
from reviewer.imaging.spreadsheet import safe_writer
from reviewer.selectors.audit import KNOWN_VERBS, AuditFilter, audit_events, audit_page
from reviewer.views.access import admin_required

CSV_MAX_ROWS = 100_000


def _filter(form: AuditFilterForm) -> AuditFilter:
    data = form.cleaned_data
    return AuditFilter(
        actor_id=data["who"].pk if data.get("who") else None,
        verb=data.get("what") or "",
        dataset_id=data["dataset"].pk if data.get("dataset") else None,
        image_id=data.get("image"),
        since=data.get("since"),
        until=data.get("until"),
    )


def _cursor(request) -> tuple[datetime, int] | None:
    at, _, pk = (request.GET.get("before") or "").partition("~")
    when = parse_datetime(at) if at else None
    return (when, int(pk)) if when and pk.isdigit() else None


@admin_required
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    events, next_cursor, status = [], None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        if not form.is_bound:
            form = AuditFilterForm({})
            form.is_valid()
        events, next_cursor = audit_page(_filter(form), cursor=_cursor(request))
    query = {k: v for k, v in request.GET.items() if k != "before" and v}
    next_url = None
    if next_cursor:
        next_url = "?" + urlencode({**query, "before": f"{next_cursor[0].isoformat()}~{next_cursor[1]}"})
    return render(
        request,
        "reviewer/audit/log.html",
        {
            "form": form,
            "events": events,
            "next_url": next_url,
            "csv_url": "csv?" + urlencode(query),
            "verbs": KNOWN_VERBS,
            "newest_url": None if _cursor(request) is None else "?" + urlencode(query),
        },
        status=status,
    )


class _Echo:
    def write(self, value):
        return value


@admin_required
def audit_csv(request):
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return audit_log(request)
    events = audit_events(_filter(form))[:CSV_MAX_ROWS]
    writer = safe_writer(_Echo())

    def rows():
        yield writer.writerow(["at", "who", "what", "object_type", "object_id", "dataset", "data"])
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    e.at.isoformat(),
                    e.actor.username if e.actor else "",
                    e.verb,
                    e.object_type,
                    e.object_id,
                    e.dataset.name if e.dataset else "",
                    json.dumps(e.data, sort_keys=True),
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="veil-audit.csv"'
    return response


urlpatterns = [
    path("audit/", audit_log, name="audit-log"),
    path("audit/csv", audit_csv, name="audit-csv"),
]
