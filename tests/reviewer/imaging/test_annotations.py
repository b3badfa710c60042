"""Annotation files: what is written reads back the same, COCO loads in pycocotools, bad input is reported."""

import csv
import io
import json

import pytest

from reviewer.imaging.annotations import (
    AnnotationFormatError,
    ImageBoxes,
    ScoredBox,
    read,
    write,
    write_coco,
    write_csv,
    write_imagenet_json,
)
from reviewer.imaging.geometry import Box

IMAGES = [
    ImageBoxes("n01/a.JPEG", 500, 375, [ScoredBox(Box(10, 20, 50.5, 70.25), 0.9), ScoredBox(Box(100, 100, 140, 150))]),
    ImageBoxes("n02/empty.JPEG", 400, 300, []),
]


def test_imagenet_layout_is_imagenets_with_absolute_pixels_and_empty_images_kept():
    doc = json.loads(write_imagenet_json(IMAGES))
    assert doc == [
        {"url": "n01/a.JPEG", "bboxes": [
            {"x0": 10, "y0": 20, "x1": 50.5, "y1": 70.25, "score": 0.9},
            {"x0": 100, "y0": 100, "x1": 140, "y1": 150, "score": 1.0},
        ]},
        {"url": "n02/empty.JPEG", "bboxes": []},
    ]  # fmt: skip
    entries, problems = read(write_imagenet_json(IMAGES))
    assert problems == []
    assert [(e.key, [sb.box for sb in e.boxes]) for e in entries] == [
        ("n01/a.JPEG", [Box(10, 20, 50.5, 70.25), Box(100, 100, 140, 150)]),
        ("n02/empty.JPEG", []),
    ]


def test_coco_loads_in_pycocotools_with_the_face_category(tmp_path):
    from pycocotools.coco import COCO

    path = tmp_path / "coco.json"
    path.write_bytes(write_coco(IMAGES))
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["face"]
    first = coco.getImgIds()[0]
    assert coco.loadImgs(first)[0]["file_name"] == "n01/a.JPEG"
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[first]))
    assert [a["bbox"] for a in anns] == [[10, 20, 40.5, 50.25], [100, 100, 40, 50]]
    assert coco.getAnnIds(imgIds=[coco.getImgIds()[1]]) == []
    entries, problems = read(path.read_bytes())
    assert problems == []
    assert entries[0].boxes[0].box == Box(10, 20, 50.5, 70.25)


def test_csv_has_one_row_per_box_and_a_row_for_an_image_without_faces():
    rows = list(csv.DictReader(io.StringIO(write_csv(IMAGES).decode())))
    assert [(r["path"], r["x0"], r["y1"], r["score"]) for r in rows] == [
        ("n01/a.JPEG", "10", "70.25", "0.9"),
        ("n01/a.JPEG", "100", "150", ""),
        ("n02/empty.JPEG", "", "", ""),
    ]


def test_bad_entries_and_boxes_are_reported_one_by_one():
    data = json.dumps([
        {"url": "ok.jpg", "bboxes": [{"x0": 1, "y0": 2, "x1": 3, "y1": 4}]},
        {"bboxes": []},
        {"url": "bad.jpg", "bboxes": [{"x0": 1, "y0": 2, "x1": 3}, {"x0": "a", "y0": 2, "x1": 3, "y1": 4},
                                      {"x0": 1, "y0": 2, "x1": 3, "y1": 4, "score": 7}]},
    ]).encode()  # fmt: skip
    entries, problems = read(data)
    assert [e.key for e in entries] == ["ok.jpg", "bad.jpg"]
    messages = [str(p) for p in problems]
    assert messages[0] == 'entry 2: has no "url" text'
    assert messages[1] == "entry 3 (bad.jpg), box 1: needs x0, y0, x1 and y1"
    assert messages[2].startswith("entry 3 (bad.jpg), box 2: box coordinates must be numbers")
    assert messages[3] == "entry 3 (bad.jpg), box 3: score 7 is not between 0 and 1"


def test_coco_annotations_of_unknown_images_and_other_categories():
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [1, 1, 4, 4]},
            {"id": 3, "image_id": 9, "category_id": 1, "bbox": [1, 1, 4, 4]},
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [1, 1]},
        ],
        "categories": [{"id": 1, "name": "face"}, {"id": 2, "name": "car"}],
    }
    entries, problems = read(json.dumps(doc).encode())
    assert [sb.box for sb in entries[0].boxes] == [Box(1, 1, 5, 5)]
    assert [str(p) for p in problems] == [
        "annotation 3: refers to image id 9, which is not in images",
        "annotation 4: bbox must be [x, y, width, height]",
    ]


@pytest.mark.parametrize("data", [b"not json", b'{"faces": {}}', b"\xff\xfe"])
def test_files_in_no_known_layout_are_refused(data):
    with pytest.raises(AnnotationFormatError):
        read(data)


def test_unknown_output_format_is_refused():
    with pytest.raises(ValueError, match="unknown annotation format 'xml'"):
        write("xml", IMAGES)


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_written_as_text():
    images = [
        ImageBoxes(name, 10, 10, [])
        for name in ('=HYPERLINK("http://x").jpg', "+1.jpg", "-2.jpg", "@SUM(A1).jpg", "plain.jpg")
    ]
    rows = list(csv.DictReader(io.StringIO(write_csv(images).decode())))
    assert [r["path"] for r in rows] == [
        "'=HYPERLINK(\"http://x\").jpg", "'+1.jpg", "'-2.jpg", "'@SUM(A1).jpg", "plain.jpg",
    ]  # fmt: skip
