"""The second look's writes: Image.needs_second_look, its reasons and weight, kept from the safety net's reads
(reviewer.selectors.safety says what a flagged region is, and what covers or resolves one)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from reviewer.models import Dataset, Export, Image, Leak
from reviewer.selectors.safety import ID_CHUNK, REVIEWED, image_flags


def second_look_update(*, image_ids: Iterable[int]) -> int:
    """Recompute Image.needs_second_look and Image.second_look_reasons for the given images; writes only the
    rows that change (bulk). Images not reviewed yet carry no mark. Returns how many rows changed."""
    ids = list(dict.fromkeys(int(i) for i in image_ids))
    changed = 0
    for start in range(0, len(ids), ID_CHUNK):
        images = list(Image.objects.filter(pk__in=ids[start : start + ID_CHUNK]))
        flags = image_flags(images)
        dirty = []
        for image in images:
            reasons = flags[image.pk].reasons(is_reviewed=image.status in REVIEWED)
            if reasons != image.second_look_reasons or bool(reasons) != image.needs_second_look:
                image.second_look_reasons, image.needs_second_look = reasons, bool(reasons)
                image.second_look_weight = Image.flag_weight(reasons)
                dirty.append(image)
        Image.objects.bulk_update(dirty, ["needs_second_look", "second_look_reasons", "second_look_weight"])
        changed += len(dirty)
    return changed


def second_look_update_dataset(*, dataset: Dataset) -> int:
    """Recompute the marks of every reviewed image of `dataset`, in chunks (after a leak check, a new run)."""
    ids = Image.objects.filter(dataset=dataset).filter(Q(status__in=REVIEWED) | Q(needs_second_look=True))
    return second_look_update(image_ids=ids.order_by("pk").values_list("pk", flat=True).iterator())


def second_look_after_leak_check(*, export: Export) -> int:
    """After a leak check: recompute the marks of the images it found faces in, and of the images an earlier
    check had flagged (its finds are no longer the current ones)."""
    ids = set(Leak.objects.filter(export=export).values_list("image_id", flat=True))
    flagged = Image.objects.filter(dataset_id=export.dataset_id, needs_second_look=True)
    for pk, reasons in flagged.values_list("pk", "second_look_reasons").iterator():
        if any(r.get("code", "").startswith("leak_") for r in reasons or []):
            ids.add(pk)
    return second_look_update(image_ids=sorted(ids))
