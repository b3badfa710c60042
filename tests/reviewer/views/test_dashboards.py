import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewer.models import DetectionResult, Export, ExportItem, Image, ReviewerDay
from reviewer.services.snapshots import snapshots_write
from tests.factories import (
    ApprovalFactory,
    ApprovedBoxFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionRunFactory,
    GoldBoxFactory,
    ImageFactory,
    ProposalFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db


def dataset_urls(dataset):
    names = ("dashboard-dataset", "dashboard-reviewers", "dashboard-detector", "dashboard-missed")
    return [reverse(name, args=[dataset.pk]) for name in names]


def test_dashboards_are_for_admins(client, reviewer_user):
    dataset = DatasetFactory()
    urls = [*dataset_urls(dataset), reverse("dashboard-throughput")]
    for url in urls:
        assert client.get(url)["Location"].startswith(reverse("login"))
    client.force_login(reviewer_user)
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.get(urls[1] + "?format=csv").status_code == 403


def test_dataset_dashboard_draws_stages_days_and_batch_progress(admin_client, django_assert_max_num_queries):
    dataset = DatasetFactory(name="street")
    batch = BatchFactory(dataset=dataset, name="b-001")
    for status in (Image.Status.APPROVED, Image.Status.REVIEWED, Image.Status.DETECTED, Image.Status.DETECTED):
        BatchItemFactory(batch=batch, image__status=status)
    AssignmentFactory(batch=batch, reviewer=UserFactory(username="rita"))
    snapshots_write()
    for n in range(60):
        BatchFactory(dataset=dataset, name=f"z-{n:03d}")
    with django_assert_max_num_queries(9):
        response = admin_client.get(reverse("dashboard-dataset", args=[dataset.pk]))
    html = response.content.decode()
    assert "<h2>4 images, by stage</h2>" in html
    assert "<title>Proposals ready: 2 (50 %)</title>" in html
    assert f"{timezone.localdate():%d %b} · Approved: 1" in html  # the daily snapshot column
    row = re.search(r'<tr data-batch="b-001">.*?</tr>', html, re.S).group(0)
    assert "rita" in row
    assert ">2 / 4</text>" in row  # reviewed or approved
    assert "Next batches" in html
    assert html.count("<tr data-batch=") == 50


def test_todays_column_says_what_the_stage_bar_says_though_the_snapshot_is_minutes_old(admin_client):
    dataset = DatasetFactory(name="street")
    images = ImageFactory.create_batch(3, dataset=dataset, status=Image.Status.REVIEWED)
    snapshots_write()  # today's snapshot: 3 reviewed
    Image.objects.filter(pk__in=[i.pk for i in images[:2]]).update(status=Image.Status.APPROVED)
    snapshots_write()  # written a moment ago: not written again yet

    html = admin_client.get(reverse("dashboard-dataset", args=[dataset.pk])).content.decode()

    today = f"{timezone.localdate():%d %b}"
    assert "<title>Approved: 2 (67 %)</title>" in html  # the stage bar
    assert f"{today} · Approved: 2</title>" in html  # the per-day chart agrees
    assert f"{today} · Reviewed: 1</title>" in html
    assert f"{today} · Reviewed: 3</title>" not in html


def test_reviewer_dashboard_rows_sparkbars_and_csv(admin_client, django_assert_max_num_queries):
    dataset = DatasetFactory()
    rita = UserFactory(username="rita")
    gold = GoldBoxFactory(image__dataset=dataset, x0=0, y0=0, x1=20, y1=20).image
    make_review(gold, rita, (0, 0, 20, 20), (30, 30, 40, 40), seconds_spent=6)
    make_review(ImageFactory(dataset=dataset), rita, seconds_spent=2)
    snapshots_write()
    ReviewerDay.objects.create(
        reviewer=rita, dataset=dataset, day=timezone.localdate() - timedelta(days=2), reviews=5, seconds_median=9,
        seconds_total=45,
    )  # fmt: skip
    url = reverse("dashboard-reviewers", args=[dataset.pk])
    with django_assert_max_num_queries(5):
        response = admin_client.get(url)
    row = re.search(r'<tr data-reviewer="rita">.*?</tr>', response.content.decode(), re.S).group(0)
    assert '<td class="num">7</td>' in row  # images over the period
    assert '<td class="num">9.0</td>' in row  # weighted median of daily medians: 5 images at 9 s, 2 at 4 s
    assert "0.0 %" in row  # gold miss rate
    assert "50.0 %" in row  # false-box rate: 1 of 2 boxes drawn on gold covers no known face
    assert row.count("<rect") == 30  # one sparkbar per day
    rows = list(csv.reader(io.StringIO(admin_client.get(url + "?format=csv").content.decode())))
    assert rows[0][:6] == ["reviewer", "images", "median_seconds", "gold_miss_rate", "false_box_rate", "agreement"]
    assert rows[0][-1] == timezone.localdate().isoformat()
    assert rows[1][:6] == ["rita", "7", "9.0", "0.0", "0.5", ""]
    assert rows[1][-3:] == ["5", "0", "2"]


def test_detector_quality_by_size_and_the_missed_faces(admin_client, django_assert_max_num_queries):
    dataset = DatasetFactory()
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    image = ImageFactory(dataset=dataset, status=Image.Status.APPROVED, relative_path="crowd/a.jpg")
    approval = ApprovalFactory(image=image)
    ApprovedBoxFactory(approval=approval, x0=0, y0=0, x1=30, y1=30)  # 30 px: found
    ApprovedBoxFactory(approval=approval, x0=40, y0=20, x1=50, y1=30)  # 10 px: missed
    ProposalFactory(run=run, image=image, x0=1, y0=1, x1=30, y1=30)
    ProposalFactory(run=run, image=image, x0=0, y0=40, x1=60, y1=48)  # a false proposal, ~22 px
    with django_assert_max_num_queries(6):
        html = admin_client.get(reverse("dashboard-detector", args=[dataset.pk])).content.decode()
    assert "&lt; 24 px · recall: 0 %" in html
    assert "24-48 · recall: 100 %" in html
    assert "&lt; 24 px · precision: 0 %" in html
    assert "1 face the detector missed" in html
    url = reverse("dashboard-missed", args=[dataset.pk])
    with django_assert_max_num_queries(6):
        html = admin_client.get(url).content.decode()
    assert html.count("<figure data-image=") == 1
    assert 'viewBox="40.0 20.0 10.0 10.0"' in html
    assert "crowd/a.jpg · 10 px" in html
    rows = list(csv.reader(io.StringIO(admin_client.get(url + "?format=csv").content.decode())))
    assert rows == [
        ["image_id", "relative_path", "x0", "y0", "x1", "y1", "size_px"],
        [str(image.pk), "crowd/a.jpg", "40.0", "20.0", "50.0", "30.0", "10"],
    ]


def test_throughput_counts_detection_and_export_images_per_minute(admin_client, django_assert_max_num_queries):
    run = DetectionRunFactory()
    now = timezone.now()
    minute = now.replace(second=30, microsecond=0) - timedelta(minutes=2)  # well inside one minute's bucket
    export = Export.objects.create(
        dataset=run.dataset, status=Export.Status.DONE, images_total=30, images_done=30,
        started_at=now - timedelta(seconds=10), finished_at=now,
    )  # fmt: skip
    for n in range(60):
        image = ImageFactory(dataset=run.dataset)
        DetectionResult.objects.create(run=run, image=image, status="done", created_at=minute)
        if n < 30:
            ExportItem.objects.create(
                export=export, image=image, output_path=f"{n}.jpg", output_key=f"{n}.jpg", source_sha256="a",
                output_sha256="b", created_at=minute - timedelta(minutes=1),
            )  # fmt: skip
    DetectionResult.objects.filter(run=run).update(created_at=minute)  # auto_now_add ignored the value above
    with django_assert_max_num_queries(6):
        html = admin_client.get(reverse("dashboard-throughput") + "?window=hour").content.decode()
    label = timezone.localtime(minute).strftime("%H:%M")
    earlier = timezone.localtime(minute - timedelta(minutes=1)).strftime("%H:%M")
    assert f"{label} · detection images/s: 1</title>" in html  # 60 images in that minute
    assert html.count("detection images/s: ") == 1  # the other minutes are empty
    assert f"{earlier} · export images/s: 0.5</title>" in html
    assert "export images/s: " in html
    assert re.search(rf'<a href="/exports/{export.pk}/">#{export.pk}</a>.*?<td class="num">3.0</td>', html, re.S)
    assert admin_client.get(reverse("dashboard-throughput")).status_code == 200
