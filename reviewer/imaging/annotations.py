"""Face annotations in and out: ImageNet's JSON layout, COCO and CSV. Pure: bytes and dataclasses, no Django.

- ImageNet (`face_annotations_ILSVRC.json`): `[{"url": <path>, "bboxes": [{"x0","y0","x1","y1"[,"score"]}]}]`,
  absolute pixels, corners.
- COCO: `images` (file_name, width, height), `annotations` (bbox = [x, y, width, height]), category "face".
- CSV: `path,width,height,x0,y0,x1,y1,score`, one row per box; an image without faces has one row with the box
  columns empty, so "no faces" and "not in the file" stay different things.

Readers never drop anything silently: what they cannot read comes back as a Problem with where and why.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

from reviewer.imaging.geometry import Box, InvalidBox
from reviewer.imaging.spreadsheet import safe_writer

FORMATS = ("imagenet-json", "coco", "csv")
FILE_NAMES = {"imagenet-json": "face_annotations.json", "coco": "coco.json", "csv": "faces.csv"}
COCO_FACE_CATEGORY = {"id": 1, "name": "face", "supercategory": "person"}


@dataclass(frozen=True)
class ScoredBox:
    box: Box
    score: float | None = None


@dataclass
class ImageBoxes:
    """One image's boxes, for writing: its path in the dataset and its size as displayed."""

    path: str
    width: int
    height: int
    boxes: list[ScoredBox] = field(default_factory=list)


@dataclass
class Entry:
    """One image as read from a file: the path or file name it names, and its boxes (not yet checked)."""

    key: str
    boxes: list[ScoredBox] = field(default_factory=list)
    where: str = ""
    bad_boxes: int = 0  # boxes of this image that could not be read (each is also a Problem)


@dataclass(frozen=True)
class Problem:
    where: str  # "entry 3 (n01/x.JPEG), box 2"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class AnnotationFormatError(ValueError):
    """A file that is not one of the layouts read here at all."""


# --- writers ------------------------------------------------------------------------------------------------


def _num(value: float) -> float | int:
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def write_imagenet_json(images: list[ImageBoxes], *, with_score: bool = True) -> bytes:
    rows = []
    for image in images:
        bboxes = []
        for sb in image.boxes:
            item = {"x0": _num(sb.box.x0), "y0": _num(sb.box.y0), "x1": _num(sb.box.x1), "y1": _num(sb.box.y1)}
            if with_score:
                item["score"] = round(float(sb.score if sb.score is not None else 1.0), 4)
            bboxes.append(item)
        rows.append({"url": image.path, "bboxes": bboxes})
    return (json.dumps(rows, indent=1) + "\n").encode("utf-8")


def write_coco(images: list[ImageBoxes], *, description: str = "Veil face annotations") -> bytes:
    coco_images, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        coco_images.append({"id": image_id, "file_name": image.path, "width": image.width, "height": image.height})
        for sb in image.boxes:
            w, h = sb.box.width, sb.box.height
            ann = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": COCO_FACE_CATEGORY["id"],
                "bbox": [_num(sb.box.x0), _num(sb.box.y0), _num(w), _num(h)],
                "area": _num(w * h),
                "iscrowd": 0,
            }
            if sb.score is not None:
                ann["score"] = round(float(sb.score), 4)
            annotations.append(ann)
    doc = {
        "info": {"description": description},
        "licenses": [],
        "images": coco_images,
        "annotations": annotations,
        "categories": [COCO_FACE_CATEGORY],
    }
    return (json.dumps(doc, indent=1) + "\n").encode("utf-8")


def write_csv(images: list[ImageBoxes]) -> bytes:
    """One row per box (one empty row for an image without faces); cells neutralised against formulas."""
    buf = io.StringIO()
    writer = safe_writer(buf, lineterminator="\n")
    writer.writerow(["path", "width", "height", "x0", "y0", "x1", "y1", "score"])
    for image in images:
        if not image.boxes:
            writer.writerow([image.path, image.width, image.height, "", "", "", "", ""])
        for sb in image.boxes:
            b = sb.box
            score = "" if sb.score is None else round(float(sb.score), 4)
            coords = [_num(b.x0), _num(b.y0), _num(b.x1), _num(b.y1)]
            writer.writerow([image.path, image.width, image.height, *coords, score])
    return buf.getvalue().encode("utf-8")


WRITERS = {"imagenet-json": write_imagenet_json, "coco": write_coco, "csv": write_csv}


def write(fmt: str, images: list[ImageBoxes]) -> bytes:
    if fmt not in WRITERS:
        raise ValueError(f"unknown annotation format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[fmt](images)


# --- readers ------------------------------------------------------------------------------------------------


def read(data: bytes) -> tuple[list[Entry], list[Problem]]:
    """Read ImageNet's layout or COCO, whichever `data` is. Raises AnnotationFormatError for anything else."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationFormatError(f"not a JSON file: {exc}") from exc
    if isinstance(doc, list):
        return read_imagenet_json(doc)
    if isinstance(doc, dict) and "images" in doc and "annotations" in doc:
        return read_coco(doc)
    raise AnnotationFormatError(
        "neither ImageNet's layout (a list of {url, bboxes}) nor COCO (an object with images and annotations)"
    )


def _score(value, where: str, problems: list[Problem]) -> float | None:
    if value is None:
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        problems.append(Problem(where, f"score {value!r} is not a number"))
        return None
    if not math.isfinite(score) or not 0 <= score <= 1:
        problems.append(Problem(where, f"score {value!r} is not between 0 and 1"))
        return None
    return score


def read_imagenet_json(doc: list) -> tuple[list[Entry], list[Problem]]:
    entries, problems = [], []
    for n, row in enumerate(doc, start=1):
        if not isinstance(row, dict) or not isinstance(row.get("url"), str) or not row["url"].strip():
            problems.append(Problem(f"entry {n}", 'has no "url" text'))
            continue
        where = f"entry {n} ({row['url']})"
        bboxes = row.get("bboxes", [])
        if not isinstance(bboxes, list):
            problems.append(Problem(where, '"bboxes" is not a list'))
            continue
        entry = Entry(key=row["url"].strip(), where=where)
        for k, raw in enumerate(bboxes, start=1):
            box_where = f"{where}, box {k}"
            if not isinstance(raw, dict) or any(c not in raw for c in ("x0", "y0", "x1", "y1")):
                problems.append(Problem(box_where, "needs x0, y0, x1 and y1"))
                entry.bad_boxes += 1
                continue
            try:
                box = Box.from_sequence([raw["x0"], raw["y0"], raw["x1"], raw["y1"]])
            except InvalidBox as exc:
                problems.append(Problem(box_where, str(exc)))
                entry.bad_boxes += 1
                continue
            entry.boxes.append(ScoredBox(box, _score(raw.get("score"), box_where, problems)))
        entries.append(entry)
    return entries, problems


def read_coco(doc: dict) -> tuple[list[Entry], list[Problem]]:
    problems: list[Problem] = []
    categories = doc.get("categories") or []
    face_ids = {c.get("id") for c in categories if isinstance(c, dict) and str(c.get("name", "")).lower() == "face"}
    entries: dict[object, Entry] = {}
    for n, image in enumerate(doc.get("images") or [], start=1):
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            problems.append(Problem(f"image {n}", "needs an id and a file_name"))
            continue
        entries[image["id"]] = Entry(key=image["file_name"], where=f"image {image['id']} ({image['file_name']})")
    for n, ann in enumerate(doc.get("annotations") or [], start=1):
        where = f"annotation {ann.get('id', n) if isinstance(ann, dict) else n}"
        if not isinstance(ann, dict):
            problems.append(Problem(where, "is not an object"))
            continue
        if face_ids and ann.get("category_id") not in face_ids:
            continue  # another category (a person, a car): not a face box
        entry = entries.get(ann.get("image_id"))
        if entry is None:
            problems.append(Problem(where, f"refers to image id {ann.get('image_id')!r}, which is not in images"))
            continue
        bbox = ann.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            problems.append(Problem(where, "bbox must be [x, y, width, height]"))
            entry.bad_boxes += 1
            continue
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            problems.append(Problem(where, f"bbox {bbox!r} has a value that is not a number"))
            entry.bad_boxes += 1
            continue
        entry.boxes.append(ScoredBox(Box.from_xywh(x, y, w, h), _score(ann.get("score"), where, problems)))
    return list(entries.values()), problems
