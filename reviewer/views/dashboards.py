"""Dashboards: server-rendered SVG charts over snapshot rows and bounded reads (reviewer/selectors/dashboards.py)."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.safestring import mark_safe

from reviewer.charts import svg
from reviewer.imaging.spreadsheet import safe_writer
from reviewer.models import Dataset
from reviewer.selectors import dashboards as reads
from reviewer.selectors.datasets import dataset_status_counts
from reviewer.views.access import admin_required
from reviewer.views.params import int_param

STAGE_FIELDS = {"new": "new", "detected": "detected", "in_review": "in_review", "reviewed": "reviewed"}


@admin_required
def dataset_dashboard(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    counts = dataset_status_counts(datasets=[dataset]).get(dataset.pk, {})
    stage_bar = svg.stacked_bar(
        [(label, counts.get(value, 0)) for value, label in reads.STAGES], label=f"{dataset.name}: images per stage"
    )
    days = reads.dataset_stage_days(dataset=dataset, today=counts)
    over_time = svg.stacked_columns(
        [d.day.strftime("%d %b") for d in days],
        [svg.Series(label, [getattr(d, value) for d in days]) for value, label in reads.STAGES],
        label=f"{dataset.name}: images per stage, per day",
    )
    rows, next_after = reads.batch_progress_page(dataset=dataset, after_id=int_param(request.GET.get("after")))
    for row in rows:
        row.chart = mark_safe(svg.progress(row.done, row.size, label=f"{row.batch.name}: {row.done} of {row.size}"))
    return render(
        request,
        "reviewer/dashboards/dataset.html",
        {
            "dataset": dataset,
            "total": counts.get("total", 0),
            "stage_bar": mark_safe(stage_bar),
            "over_time": mark_safe(over_time),
            "has_days": bool(days),
            "rows": rows,
            "next_after": next_after,
        },
    )


def _percent(value):
    return "" if value is None else f"{100 * value:.1f} %"


@admin_required
def reviewers_dashboard(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    span, summaries = reads.reviewer_summaries(dataset=dataset)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="veil-reviewers-{dataset.pk}.csv"'
        writer = safe_writer(response)
        writer.writerow(
            ["reviewer", "images", "median_seconds", "gold_miss_rate", "false_box_rate", "agreement",
             *[d.isoformat() for d in span]]
        )  # fmt: skip
        for s in summaries:
            writer.writerow(
                [s.username, s.reviews, s.median_seconds, s.gold_miss_rate, s.false_box_rate, s.agreement, *s.days]
            )
        return response
    for s in summaries:
        s.chart = mark_safe(svg.sparkbars(s.days, label=f"{s.username}: images per day, last {len(span)} days"))
        s.miss_text, s.false_text, s.agree_text = (
            _percent(s.gold_miss_rate),
            _percent(s.false_box_rate),
            _percent(s.agreement),
        )
    return render(
        request,
        "reviewer/dashboards/reviewers.html",
        {"dataset": dataset, "summaries": summaries, "first_day": span[0], "last_day": span[-1]},
    )


@admin_required
def detector_dashboard(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    buckets, approvals, missed = reads.detector_quality(dataset=dataset)
    chart = svg.bars(
        [b.label for b in buckets],
        [
            svg.Series("recall", [b.recall for b in buckets], svg.PALETTE[3]),
            svg.Series("precision", [b.precision for b in buckets], svg.PALETTE[1]),
        ],
        maximum=1,
        percent=True,
        label=f"{dataset.name}: detector recall and precision by face size",
    )
    return render(
        request,
        "reviewer/dashboards/detector.html",
        {"dataset": dataset, "buckets": buckets, "approvals": approvals, "missed": missed, "chart": mark_safe(chart),
         "window": reads.DETECTOR_WINDOW},
    )  # fmt: skip


@admin_required
def missed_faces(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="veil-missed-faces-{dataset.pk}.csv"'
        writer = safe_writer(response)
        writer.writerow(["image_id", "relative_path", "x0", "y0", "x1", "y1", "size_px"])
        for face in reads.missed_faces_all(dataset=dataset):
            b = face.box
            writer.writerow([face.image_id, face.relative_path, b.x0, b.y0, b.x1, b.y1, face.size])
        return response
    faces, before = reads.missed_faces_page(dataset=dataset, before_id=int_param(request.GET.get("before")))
    return render(
        request,
        "reviewer/dashboards/missed.html",
        {"dataset": dataset, "faces": faces, "before": before, "window": reads.DETECTOR_WINDOW},
    )


@admin_required
def throughput_dashboard(request):
    hours = 1 if request.GET.get("window") == "hour" else 24
    t = reads.worker_throughput(hours=hours)
    detection = svg.stacked_columns(
        t.labels, [svg.Series("detection images/s", t.detection)], label="Detection images per second"
    )
    export_chart = svg.stacked_columns(
        t.labels, [svg.Series("export images/s", t.export, svg.PALETTE[4])], label="Export images per second"
    )
    return render(
        request,
        "reviewer/dashboards/throughput.html",
        {"t": t, "hours": hours, "detection_chart": mark_safe(detection), "export_chart": mark_safe(export_chart),
         "peak": max(t.detection, default=0), "export_peak": max(t.export, default=0), "exports": t.exports},
    )  # fmt: skip


urlpatterns = [
    path("datasets/<int:dataset_id>/dashboard/", dataset_dashboard, name="dashboard-dataset"),
    path("datasets/<int:dataset_id>/dashboard/reviewers/", reviewers_dashboard, name="dashboard-reviewers"),
    path("datasets/<int:dataset_id>/dashboard/detector/", detector_dashboard, name="dashboard-detector"),
    path("datasets/<int:dataset_id>/dashboard/detector/missed/", missed_faces, name="dashboard-missed"),
    path("throughput/", throughput_dashboard, name="dashboard-throughput"),
]
