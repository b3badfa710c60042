"""The admin's new pages at 2 k images (the baseline) and at N images, measured in the same run: queries and time.

Run from the repository: VEIL_DATA_DIR=$(mktemp -d) .venv/bin/python bench/admin_pages.py 200000
(a scratch data folder: it makes datasets and users). With DATABASE_URL it measures PostgreSQL.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reviewer.models import (
    Approval,
    ApprovedBox,
    AuditEvent,
    Batch,
    BatchItem,
    Dataset,
    DetectionResult,
    DetectionRun,
    Image,
    Proposal,
    Review,
    User,
)  # fmt: skip
from reviewer.services.snapshots import snapshots_write

settings.ALLOWED_HOSTS = ["*"]
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"role": "admin"})
crowd = [User.objects.get_or_create(username=f"bench-r{i}")[0] for i in range(5)]
CHUNK = 20_000


def make(name: str, n: int) -> Dataset:
    Dataset.objects.filter(name=name).delete()
    ds = Dataset.objects.create(name=name)
    run = DetectionRun.objects.create(dataset=ds, detector="bench", status="done", images_total=n)
    ds.current_detection_run = run
    ds.save()
    statuses = ["approved", "reviewed", "in_review", "detected", "new"]
    for start in range(0, n, CHUNK):
        rows = [
            Image(dataset=ds, file=f"x/{name}/{i}.jpg", relative_path=f"{i:07d}.jpg", sha256=f"{name}{i:058d}"[-64:],
                  file_size=1, format="JPEG", width=640, height=480, status=statuses[i % 5])
            for i in range(start, min(n, start + CHUNK))
        ]  # fmt: skip
        images = Image.objects.bulk_create(rows)
        DetectionResult.objects.bulk_create([DetectionResult(run=run, image=im, status="done") for im in images])
        Proposal.objects.bulk_create(
            [Proposal(run=run, image=im, ordinal=0, score=0.9, x0=10, y0=10, x1=60, y1=60) for im in images]
        )
        batches = Batch.objects.bulk_create(
            [Batch(dataset=ds, name=f"b-{(start + j) // 20:06d}") for j in range(0, len(images), 20)]
        )
        BatchItem.objects.bulk_create(
            [BatchItem(batch=batches[j // 20], image=im, position=j % 20) for j, im in enumerate(images)]
        )
        Review.objects.bulk_create(
            [Review(image=im, reviewer=crowd[j % 5], seconds_spent=3 + j % 7) for j, im in enumerate(images[:2000])]
        )
        AuditEvent.objects.bulk_create(
            [AuditEvent(actor=admin, verb="image.approved", object_type="reviewer.image", object_id=str(im.pk),
                        dataset=ds) for im in images[:5000]]
        )  # fmt: skip
    approved = list(Image.objects.filter(dataset=ds, status="approved").order_by("-id")[:600])
    approvals = Approval.objects.bulk_create([Approval(image=im, source="admin", approved_by=admin) for im in approved])
    ApprovedBox.objects.bulk_create(
        [ApprovedBox(approval=a, x0=12, y0=12, x1=58, y1=58) for a in approvals]
        + [ApprovedBox(approval=a, x0=200, y0=200, x1=220, y1=220) for a in approvals]
    )
    return ds


def measure(ds: Dataset) -> dict[str, tuple[int, float]]:
    client = Client()
    client.force_login(admin)
    urls = {
        "dashboard": reverse("dashboard-dataset", args=[ds.pk]),
        "reviewers": reverse("dashboard-reviewers", args=[ds.pk]),
        "detector": reverse("dashboard-detector", args=[ds.pk]),
        "missed": reverse("dashboard-missed", args=[ds.pk]),
        "settings": reverse("dataset-settings", args=[ds.pk]),
        "audit": reverse("audit-log") + f"?dataset={ds.pk}",
        "audit-by-image": reverse("audit-log") + f"?image={Image.objects.filter(dataset=ds).first().pk}",
        "people": reverse("people"),
        "throughput": reverse("dashboard-throughput"),
    }
    out = {}
    for name, url in urls.items():
        client.get(url)  # warm
        best = None
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                assert client.get(url).status_code == 200, url
                took = time.perf_counter() - t
            best = took if best is None else min(best, took)
        out[name] = (len(queries), best * 1000)
    return out


t0 = time.perf_counter()
small, large = make("bench-admin-2k", 2000), make(f"bench-admin-{N}", N)
built = time.perf_counter() - t0
snapshots_write(force=True)
a, b = measure(small), measure(large)
print(f"# bench/admin_pages.py {N} on {connection.vendor}; data built in {built:.0f} s")
print(f"{'page':16} {'queries 2k':>10} {'ms 2k':>8} {'queries ' + str(N):>14} {'ms ' + str(N):>10}")
for name in a:
    print(f"{name:16} {a[name][0]:>10} {a[name][1]:>8.1f} {b[name][0]:>14} {b[name][1]:>10.1f}")
