"""Annotations in (ImageNet layout, COCO) as approvals or proposals, and out as files; nothing dropped silently."""

import json

import pytest

from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.geometry import Box
from reviewer.models import Approval, AuditEvent, DetectionRun, Image, Proposal
from reviewer.services.annotations import annotations_export, annotations_import
from tests.factories import (
    ApprovalFactory,
    ApprovedBoxFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
)
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset():
    ds = DatasetFactory(name="ilsvrc")
    ImageFactory(dataset=ds, relative_path="train/n01/n01_1.JPEG", content=jpeg_bytes(200, 150, seed=1))
    ImageFactory(dataset=ds, relative_path="train/n02/n02_7.JPEG", content=jpeg_bytes(200, 150, seed=2))
    ImageFactory(dataset=ds, relative_path="val/a/dup.JPEG", content=jpeg_bytes(200, 150, seed=3))
    ImageFactory(dataset=ds, relative_path="val/b/dup.JPEG", content=jpeg_bytes(200, 150, seed=4))
    return ds


def imagenet(rows):
    return json.dumps(rows).encode()


def boxes_of(image):
    approval = Approval.objects.get(image=image, is_current=True)
    return [b.box for b in approval.boxes.order_by("id")]


def test_imagenet_layout_imported_as_approved_matches_by_path_then_file_name(dataset, admin_user):
    data = imagenet([
        {"url": "train/n01/n01_1.JPEG", "bboxes": [{"x0": 10, "y0": 20, "x1": 50, "y1": 70}]},
        {"url": "n02/n02_7.JPEG", "bboxes": []},  # ImageNet's own url, matched by file name
    ])  # fmt: skip
    report = annotations_import(dataset=dataset, data=data, import_as="approved", user=admin_user, label="f.json")
    assert report.is_clean, report.problems
    assert (report.images_imported, report.boxes_imported) == (2, 1)
    first = Image.objects.get(relative_path="train/n01/n01_1.JPEG")
    second = Image.objects.get(relative_path="train/n02/n02_7.JPEG")
    assert boxes_of(first) == [Box(10, 20, 50, 70)]
    assert boxes_of(second) == []  # approved as "no faces"
    assert {first.status, second.status} == {Image.Status.APPROVED}
    approval = Approval.objects.get(image=first, is_current=True)
    assert (approval.source, approval.approved_by) == (Approval.Source.IMPORTED, admin_user)
    assert first.revision == 1
    assert AuditEvent.objects.filter(verb="image.approved", object_id=str(first.pk)).exists()


def test_unknown_images_ambiguous_names_and_bad_boxes_are_reported_and_not_imported(dataset, admin_user):
    data = imagenet([
        {"url": "nowhere/x.JPEG", "bboxes": []},
        {"url": "dup.JPEG", "bboxes": []},
        {"url": "train/n01/n01_1.JPEG", "bboxes": [{"x0": 10, "y0": 20, "x1": 50, "y1": 70},
                                                    {"x0": 60, "y0": 20, "x1": 40, "y1": 70}]},
        {"url": "train/n02/n02_7.JPEG", "bboxes": [{"x0": 10, "y0": 20, "x1": "?", "y1": 70}]},
        {"url": "val/a/dup.JPEG", "bboxes": [{"x0": 190, "y0": 140, "x1": 260, "y1": 200}]},
    ])  # fmt: skip
    report = annotations_import(dataset=dataset, data=data, import_as="approved", user=admin_user)
    assert report.problems[0].startswith("entry 4 (train/n02/n02_7.JPEG), box 1: box coordinates must be numbers")
    assert report.problems[1:] == [
        "entry 1 (nowhere/x.JPEG): no image of ilsvrc has this path or file name",
        "entry 2 (dup.JPEG): 2 images of ilsvrc are named dup.JPEG",
        "entry 3 (train/n01/n01_1.JPEG), box 2: box [60.0, 20.0, 40.0, 70.0] is inverted or empty: x1 must exceed "
        "x0 and y1 must exceed y0; train/n01/n01_1.JPEG was not imported",
        "entry 4 (train/n02/n02_7.JPEG): 1 unreadable box(es), see above; train/n02/n02_7.JPEG was not imported",
    ]
    # A box running past the edge is clamped to the image, not refused.
    assert report.images_imported == 1
    assert boxes_of(Image.objects.get(relative_path="val/a/dup.JPEG")) == [Box(190, 140, 200, 150)]
    assert not Approval.objects.filter(image__relative_path="train/n01/n01_1.JPEG").exists()


def test_reimporting_supersedes_the_current_approval(dataset, admin_user):
    image = Image.objects.get(relative_path="train/n01/n01_1.JPEG")
    old = ApprovalFactory(image=image)
    data = imagenet([{"url": image.relative_path, "bboxes": [{"x0": 1, "y0": 1, "x1": 30, "y1": 30}]}])
    annotations_import(dataset=dataset, data=data, import_as="approved", user=admin_user)
    old.refresh_from_db()
    assert old.is_current is False
    assert boxes_of(image) == [Box(1, 1, 30, 30)]


def test_coco_imported_as_proposals_makes_an_imported_run(dataset):
    doc = {
        "images": [{"id": 5, "file_name": "n01_1.JPEG", "width": 200, "height": 150}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 1, "bbox": [10, 20, 40, 50], "score": 0.7},
            {"id": 2, "image_id": 5, "category_id": 1, "bbox": [100, 20, 40, 50]},
        ],
        "categories": [{"id": 1, "name": "face"}],
    }
    report = annotations_import(dataset=dataset, data=json.dumps(doc).encode(), import_as="proposals", label="c.json")
    assert report.is_clean
    run = DetectionRun.objects.get(pk=report.run_id)
    assert (run.detector, run.status) == ("imported", DetectionRun.Status.DONE)
    dataset.refresh_from_db()
    assert dataset.current_detection_run == run  # the dataset had no run yet
    proposals = list(Proposal.objects.filter(run=run).order_by("ordinal"))
    assert [(p.box, p.score, p.source) for p in proposals] == [
        (Box(10, 20, 50, 70), 0.7, "imported"),
        (Box(100, 20, 140, 70), 1.0, "imported"),
    ]
    assert Image.objects.get(relative_path="train/n01/n01_1.JPEG").status == Image.Status.DETECTED


def test_files_in_no_known_layout_and_bad_modes_are_refused(dataset):
    with pytest.raises(ServiceError, match="neither ImageNet's layout"):
        annotations_import(dataset=dataset, data=b'{"faces": {}}', import_as="approved")
    with pytest.raises(ServiceError, match="Import as proposals or approved"):
        annotations_import(dataset=dataset, data=b"[]", import_as="gold")


def test_export_final_boxes_lists_approved_images_only(dataset):
    image = Image.objects.get(relative_path="train/n01/n01_1.JPEG")
    approval = ApprovalFactory(image=image)
    ApprovedBoxFactory(approval=approval, x0=10, y0=20, x1=50.5, y1=70)
    Image.objects.filter(pk=image.pk).update(status=Image.Status.APPROVED)
    data, count = annotations_export(dataset=dataset, box_set="final", fmt="imagenet-json")
    assert count == 1
    assert json.loads(data) == [
        {"url": "train/n01/n01_1.JPEG", "bboxes": [{"x0": 10, "y0": 20, "x1": 50.5, "y1": 70, "score": 1.0}]}
    ]


def test_export_proposals_of_the_current_run_includes_images_without_faces(dataset):
    with pytest.raises(Conflict, match="ilsvrc has no current detection run"):
        annotations_export(dataset=dataset, box_set="proposals", fmt="imagenet-json")
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    first = Image.objects.get(relative_path="train/n01/n01_1.JPEG")
    ProposalFactory(run=run, image=first, ordinal=0, score=0.42, x0=1, y0=2, x1=30, y1=40)
    from reviewer.models import DetectionResult

    for image in Image.objects.filter(dataset=dataset, relative_path__startswith="train"):
        DetectionResult.objects.create(run=run, image=image, status="done", face_count=int(image == first))
    data, count = annotations_export(dataset=dataset, box_set="proposals", fmt="imagenet-json")
    assert json.loads(data) == [
        {"url": "train/n01/n01_1.JPEG", "bboxes": [{"x0": 1, "y0": 2, "x1": 30, "y1": 40, "score": 0.42}]},
        {"url": "train/n02/n02_7.JPEG", "bboxes": []},
    ]
    assert count == 2
