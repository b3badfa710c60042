"""Annotation files written one image at a time, to disk, so an export's memory does not grow with the dataset.

The same three layouts as reviewer/imaging/annotations.py (which builds them in memory, for a download of one
dataset's boxes) and the same contents: `annotations.read` reads both the same. Pure: paths in, files out.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from reviewer.imaging.annotations import COCO_FACE_CATEGORY, FILE_NAMES, FORMATS, ImageBoxes, _num
from reviewer.imaging.spreadsheet import safe_writer


class _Stream:
    def __init__(self, folder: Path, fmt: str):
        self.path = folder / FILE_NAMES[fmt]
        self._fh = self.path.open("w", encoding="utf-8", newline="")

    def add(self, image: ImageBoxes) -> None:
        raise NotImplementedError

    def finish(self) -> Path:
        self._fh.close()
        return self.path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._fh.close()


class _ImageNetJSON(_Stream):
    """`[{"url": path, "bboxes": [...]}, ...]`, one image per line."""

    def __init__(self, folder: Path, fmt: str):
        super().__init__(folder, fmt)
        self._fh.write("[")
        self._first = True

    def add(self, image: ImageBoxes) -> None:
        bboxes = [
            {"x0": _num(b.box.x0), "y0": _num(b.box.y0), "x1": _num(b.box.x1), "y1": _num(b.box.y1),
             "score": round(float(b.score if b.score is not None else 1.0), 4)}
            for b in image.boxes
        ]  # fmt: skip
        self._fh.write(("\n" if self._first else ",\n") + json.dumps({"url": image.path, "bboxes": bboxes}))
        self._first = False

    def finish(self) -> Path:
        self._fh.write("\n]\n")
        return super().finish()


class _COCO(_Stream):
    """COCO's two lists are written to two files as images come, and joined once at the end."""

    def __init__(self, folder: Path, fmt: str):
        super().__init__(folder, fmt)
        self._boxes_path = folder / f".{FILE_NAMES[fmt]}.annotations"
        self._boxes = self._boxes_path.open("w", encoding="utf-8")
        self._images = self._annotations = 0
        self._fh.write('{"info": {"description": "Veil face annotations"}, "licenses": [], "images": [')

    def add(self, image: ImageBoxes) -> None:
        self._images += 1
        entry = {"id": self._images, "file_name": image.path, "width": image.width, "height": image.height}
        self._fh.write(("\n" if self._images == 1 else ",\n") + json.dumps(entry))
        for sb in image.boxes:
            self._annotations += 1
            w, h = sb.box.width, sb.box.height
            ann = {
                "id": self._annotations, "image_id": self._images, "category_id": COCO_FACE_CATEGORY["id"],
                "bbox": [_num(sb.box.x0), _num(sb.box.y0), _num(w), _num(h)], "area": _num(w * h), "iscrowd": 0,
            }  # fmt: skip
            if sb.score is not None:
                ann["score"] = round(float(sb.score), 4)
            self._boxes.write(("\n" if self._annotations == 1 else ",\n") + json.dumps(ann))

    def finish(self) -> Path:
        self._boxes.close()
        self._fh.write('\n], "annotations": [')
        with self._boxes_path.open("r", encoding="utf-8") as boxes:
            shutil.copyfileobj(boxes, self._fh, 1024 * 1024)
        self._boxes_path.unlink()
        self._fh.write(f'\n], "categories": [{json.dumps(COCO_FACE_CATEGORY)}]}}\n')
        return super().finish()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._boxes.close()
        super().close()


class _CSV(_Stream):
    """`path,width,height,x0,y0,x1,y1,score`, a row per box and one empty row for an image without faces."""

    def __init__(self, folder: Path, fmt: str):
        super().__init__(folder, fmt)
        self._writer = safe_writer(self._fh, lineterminator="\n")
        self._writer.writerow(["path", "width", "height", "x0", "y0", "x1", "y1", "score"])

    def add(self, image: ImageBoxes) -> None:
        if not image.boxes:
            self._writer.writerow([image.path, image.width, image.height, "", "", "", "", ""])
        for sb in image.boxes:
            b = sb.box
            score = "" if sb.score is None else round(float(sb.score), 4)
            coords = [_num(b.x0), _num(b.y0), _num(b.x1), _num(b.y1)]
            self._writer.writerow([image.path, image.width, image.height, *coords, score])


_STREAMS = {"imagenet-json": _ImageNetJSON, "coco": _COCO, "csv": _CSV}


class AnnotationStreams:
    """The chosen formats' files in `folder`, written as images are added. `finish()` returns {format: path}."""

    def __init__(self, folder: str | Path, formats: list[str]):
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown annotation format(s) {', '.join(unknown)}; choose among {', '.join(FORMATS)}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._streams = {fmt: _STREAMS[fmt](folder, fmt) for fmt in formats}

    def add(self, image: ImageBoxes) -> None:
        for stream in self._streams.values():
            stream.add(image)

    def finish(self) -> dict[str, Path]:
        return {fmt: stream.finish() for fmt, stream in self._streams.items()}

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
