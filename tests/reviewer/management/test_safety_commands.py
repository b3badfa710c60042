"""The safety net from the command line: a refused export writes nothing and exits 1, an override goes out on
record, and the flagged regions come out as an annotation file."""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from reviewer.imaging.archive import read_manifest
from reviewer.imaging.loading import load_pixels
from reviewer.models import AuditEvent, Export, Image
from reviewer.services.safety import second_look_update
from tests.factories import (
    ApprovalFactory,
    ApprovedBoxFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    make_review,
)
from tests.images import encode

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def flagged(admin_user, reviewer_user):
    """An approved photo with one box and one candidate nobody resolved, away from the box."""
    import numpy as np

    dataset = DatasetFactory(name="street")
    run_ = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run_
    dataset.save()
    pixels = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    image = ImageFactory(dataset=dataset, relative_path="a/street.png", content=encode(pixels, "PNG"),
                         status=Image.Status.APPROVED)  # fmt: skip
    approval = ApprovalFactory(image=image)
    ApprovedBoxFactory(approval=approval, x0=10, y0=10, x1=40, y1=50)
    approval.reviews.add(make_review(image, reviewer_user, (10, 10, 40, 50)))
    CandidateFactory(image=image, run=run_, score=0.12, x0=100, y0=40, x1=130, y1=80)
    second_look_update(image_ids=[image.pk])
    return dataset, image, pixels


def test_a_refused_export_exits_1_with_what_to_look_at_and_writes_no_archive(flagged, tmp_path):
    out_path = tmp_path / "street.zip"
    stdout = io.StringIO()
    with pytest.raises(
        CommandError,
        match=r"Release gate: up to 100\.00% of faces may be left unblurred \(95% bound; estimate 50\.00%\)",
    ) as exc:
        call_command("export_dataset", "--dataset", "street", "--out", str(out_path), "--sync", "--no-progress",
                     stdout=stdout)  # fmt: skip
    assert "No archive was written; --override-gate REASON exports anyway." in str(exc.value)
    assert "a/street.png: second look: 1 unresolved candidate(s)" in stdout.getvalue()
    assert not out_path.exists()
    assert Export.objects.count() == 0


def test_an_overridden_export_goes_out_on_record_and_never_blurs_the_candidate(flagged, tmp_path, admin_user):
    _dataset, _image, pixels = flagged
    out_path = tmp_path / "street.zip"
    out, _ = run("export_dataset", "--dataset", "street", "--out", str(out_path), "--sync", "--no-progress",
                 "--no-leak-check", "--override-gate", "checked by hand: a poster")  # fmt: skip
    assert "Overridden: checked by hand: a poster" in out
    export = Export.objects.get()
    assert export.gate["override"] == {"reason": "checked by hand: a poster", "by": admin_user.username}
    assert AuditEvent.objects.filter(verb="export.gate_overridden", object_id=str(export.pk)).exists()
    with zipfile.ZipFile(out_path) as zf:
        manifest = read_manifest(zf.filename)
        exported = load_pixels(io.BytesIO(zf.read("a/street.png")))
    assert manifest["release_gate"]["override"]["reason"] == "checked by hand: a poster"
    assert manifest["images"][0]["boxes"] == [[10, 10, 40, 50]]
    # The candidate's pixels are the original's, bit for bit (PNG); the box's are blurred.
    assert np_equal(exported[45:75, 105:125], pixels[45:75, 105:125])
    assert exported[15:45, 15:35].std() < pixels[15:45, 15:35].std() / 2


def np_equal(a, b) -> bool:
    import numpy as np

    return bool(np.array_equal(a, b))


def test_export_annotations_lists_the_flagged_regions(flagged, tmp_path):
    path = tmp_path / "flagged.json"
    _, err = run("export_annotations", "--dataset", "street", "--boxes", "flagged", "--format", "imagenet-json",
                 "--out", str(path))  # fmt: skip
    assert "Wrote flagged boxes of 1 images" in err
    assert json.loads(path.read_text()) == [
        {"url": "a/street.png", "bboxes": [{"x0": 100, "y0": 40, "x1": 130, "y1": 80, "score": 0.12}]}
    ]


def test_start_audit_assigns_a_blind_sample(flagged):
    from tests.factories import UserFactory

    auditor = UserFactory(username="ines")
    out, _ = run("start_audit", "--dataset", "street", "--auditor", "ines", "--rate", "0.5", "--seed", "1")
    assert out == "audit 1: 1 approved image(s) for ines.\n"
    assert auditor.assignments.get().batch.is_audit


def test_start_audit_refuses_an_auditor_who_reviewed_everything(flagged, reviewer_user):
    with pytest.raises(CommandError, match="could audit blind"):
        run("start_audit", "--dataset", "street", "--auditor", reviewer_user.username, "--rate", "1")
