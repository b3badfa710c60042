"""Face annotations made elsewhere come in as proposals or approvals; Veil's boxes go out as annotation files.

A lab holding ImageNet's published `face_annotations_ILSVRC.json` (or a COCO file) imports it and re-blurs with
Veil. Nothing is dropped silently: an entry that names no image of the dataset, a box that is not a box, an
image named twice, each is a line of the report. An image with a bad box is not imported at all, because
approving it with a box missing would publish that face.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from reviewer.errors import Conflict, ServiceError
from reviewer.imaging import annotations
from reviewer.imaging.annotations import AnnotationFormatError
from reviewer.imaging.geometry import InvalidBox, validate
from reviewer.models import (
    Approval,
    Dataset,
    DetectionResult,
    DetectionRun,
    Image,
    Proposal,
)
from reviewer.selectors.export import final_boxes, proposal_boxes
from reviewer.services.approval import ID_CHUNK, approvals_write

IMPORT_AS = ("proposals", "approved")
BOX_SETS = ("proposals", "final", "flagged")


@dataclass
class AnnotationImportReport:
    problems: list[str] = field(default_factory=list)  # one line each, for people
    images_imported: int = 0
    boxes_imported: int = 0
    entries_read: int = 0
    run_id: int | None = None

    @property
    def is_clean(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"{self.entries_read} entries read; {self.images_imported} images and {self.boxes_imported} boxes "
            f"imported; {len(self.problems)} problem(s)."
        )


def _match(dataset: Dataset, entries: list[annotations.Entry], report: AnnotationImportReport):
    """Pair entries with images: by relative path, else by file name when exactly one image has it."""
    images = list(Image.objects.filter(dataset=dataset))
    by_path = {i.relative_path: i for i in images}
    names = Counter(i.relative_path.rsplit("/", 1)[-1] for i in images)
    by_name = {i.relative_path.rsplit("/", 1)[-1]: i for i in images}
    matched: dict[int, tuple[Image, annotations.Entry]] = {}
    for entry in entries:
        key = entry.key.replace("\\", "/").lstrip("/")
        image = by_path.get(key)
        if image is None:
            name = key.rsplit("/", 1)[-1]
            if names.get(name, 0) > 1:
                report.problems.append(f"{entry.where}: {names[name]} images of {dataset.name} are named {name}")
                continue
            image = by_name.get(name)
        if image is None:
            report.problems.append(f"{entry.where}: no image of {dataset.name} has this path or file name")
            continue
        if image.pk in matched:
            report.problems.append(f"{entry.where}: {image.relative_path} already has an entry; this one is ignored")
            continue
        if entry.bad_boxes:
            report.problems.append(
                f"{entry.where}: {entry.bad_boxes} unreadable box(es), see above; "
                f"{image.relative_path} was not imported"
            )
            continue
        checked, bad = [], ""
        for k, sb in enumerate(entry.boxes, start=1):
            try:
                checked.append(annotations.ScoredBox(validate(sb.box, image.width, image.height), sb.score))
            except InvalidBox as exc:
                bad = f"box {k}: {exc}"
                break
        if bad:
            report.problems.append(f"{entry.where}, {bad}; {image.relative_path} was not imported")
            continue
        matched[image.pk] = (image, annotations.Entry(key=entry.key, boxes=checked, where=entry.where))
    return list(matched.values())


def annotations_import(
    *, dataset: Dataset, data: bytes, import_as: str, user=None, label: str = ""
) -> AnnotationImportReport:
    """Import face boxes from ImageNet's JSON layout or COCO into `dataset`.

    `import_as="approved"`: per matched image, a new current Approval (source "imported", approved by `user`)
    with its ApprovedBox rows; the previous approval stops being current; the image becomes "approved", its
    revision is bumped and any lease on it dropped. `import_as="proposals"`: one DetectionRun (detector
    "imported", status done) with a DetectionResult and Proposals (score 1.0 when the file has none) per
    matched image; images still "new" become "detected"; the run becomes current when the dataset has none.
    Everything in one transaction. Problems (unknown images, bad boxes, names matching several images) are
    in the report, one line each; images without problems are imported. Raises ServiceError for a file in
    no known layout or an unknown `import_as`.
    """
    if import_as not in IMPORT_AS:
        raise ServiceError(f"Import as proposals or approved, not {import_as!r}.", code="invalid_option")
    try:
        entries, problems = annotations.read(data)
    except AnnotationFormatError as exc:
        raise ServiceError(f"{label or 'The file'}: {exc}", code="bad_file") from exc
    report = AnnotationImportReport(problems=[str(p) for p in problems], entries_read=len(entries))
    with transaction.atomic():
        work = _match(dataset, entries, report)
        if import_as == "approved":
            _write_approved(work, user=user, label=label)
        else:
            report.run_id = _write_proposals(dataset, work, user=user, label=label).pk
        report.images_imported = len(work)
        report.boxes_imported = sum(len(entry.boxes) for _, entry in work)
    return report


def _write_approved(work, *, user, label: str) -> None:
    """Imported boxes as the images' approvals, through the approval service's one write path."""
    ids = [image.pk for image, _ in work]
    for i in range(0, len(ids), ID_CHUNK):  # the rows approvals_write expects locked
        list(Image.objects.select_for_update().filter(pk__in=ids[i : i + ID_CHUNK]).values_list("pk", flat=True))
    approvals_write(
        [(image, [sb.box for sb in entry.boxes], []) for image, entry in work],
        actor=user if getattr(user, "pk", None) else None,
        source=Approval.Source.IMPORTED,
        note=f"imported from {label}",
        verb="image.approved",
    )


def _write_proposals(dataset: Dataset, work, *, user, label: str) -> DetectionRun:
    now = timezone.now()
    run = DetectionRun.objects.create(
        dataset=dataset, created_by=user if getattr(user, "pk", None) else None, detector="imported",
        detector_version=label[:200], settings={"source": label}, status=DetectionRun.Status.DONE,
        images_total=len(work), started_at=now, finished_at=now,
    )  # fmt: skip
    DetectionResult.objects.bulk_create(
        [
            DetectionResult(run=run, image=image, status=DetectionResult.Status.DONE, face_count=len(entry.boxes))
            for image, entry in work
        ]
    )
    Proposal.objects.bulk_create(
        [
            Proposal(
                run=run,
                image=image,
                ordinal=n,
                score=1.0 if sb.score is None else sb.score,
                source="imported",
                x0=sb.box.x0,
                y0=sb.box.y0,
                x1=sb.box.x1,
                y1=sb.box.y1,
            )
            for image, entry in work
            for n, sb in enumerate(entry.boxes)
        ]
    )
    Image.objects.filter(pk__in=[i.pk for i, _ in work], status=Image.Status.NEW).update(
        status=Image.Status.DETECTED, updated_at=now
    )
    if dataset.current_detection_run_id is None:
        Dataset.objects.filter(pk=dataset.pk).update(current_detection_run=run)
        dataset.current_detection_run = run
    return run


def annotations_export(*, dataset: Dataset, box_set: str, fmt: str) -> tuple[bytes, int]:
    """One annotation file of `dataset` and how many images it lists.

    `box_set="proposals"`: the current detection run's proposals, one entry per image the run looked at (an
    image it found no face in is listed with no box). `box_set="final"`: the current approvals' boxes, one
    entry per approved image (images not approved yet are left out: nobody has said they hold no face).
    `box_set="flagged"`: per image with any, the regions flagged for a second look that no final box covers
    (unresolved candidates, leak-check finds, audit finds), scored by the detector (audit finds score 1).
    Refuses: an unknown set or format; proposals when the dataset has no current run (Conflict).
    """
    if box_set not in BOX_SETS:
        raise ServiceError(f"Boxes must be proposals, final or flagged, not {box_set!r}.", code="invalid_option")
    if fmt not in annotations.FORMATS:
        raise ServiceError(f"Format must be one of {', '.join(annotations.FORMATS)}.", code="invalid_option")
    if box_set == "proposals":
        if dataset.current_detection_run is None:
            raise Conflict(f"{dataset.name} has no current detection run: run detection first.", code="no_run")
        images = proposal_boxes(dataset.current_detection_run)
    elif box_set == "flagged":
        images = _flagged_boxes(dataset)
    else:
        images = final_boxes(dataset)
    if fmt == "imagenet-json":
        return annotations.write_imagenet_json(images, with_score=True), len(images)
    return annotations.write(fmt, images), len(images)


def _flagged_boxes(dataset: Dataset) -> list[annotations.ImageBoxes]:
    from reviewer.selectors.safety import flagged_regions

    return [
        annotations.ImageBoxes(
            image.relative_path, image.width, image.height, [annotations.ScoredBox(r.box, r.score) for r in f.regions]
        )
        for image, f in sorted(flagged_regions(dataset=dataset), key=lambda pair: pair[0].relative_path)
    ]
