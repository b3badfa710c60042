"""The export commands as an admin runs them: files written, problems printed, exit status."""

import io
import json
import zipfile

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reviewer.imaging.archive import verify_manifest
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, Image
from tests.factories import ANY_LEAK_RATE, DatasetFactory, ImageFactory
from tests.images import encode

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def dataset(admin_user):
    ds = DatasetFactory(release_bound=ANY_LEAK_RATE, name="voc")
    rng = np.random.default_rng(0)
    for n in range(2):
        content = encode(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), "PNG")
        ImageFactory(dataset=ds, relative_path=f"img/{n}.png", content=content)
    return ds


def write_json(tmp_path, rows):
    path = tmp_path / "faces.json"
    path.write_text(json.dumps(rows))
    return path


def test_import_approved_then_export_dataset_sync_then_export_annotations(dataset, tmp_path):
    boxes = write_json(tmp_path, [
        {"url": "img/0.png", "bboxes": [{"x0": 20, "y0": 20, "x1": 70, "y1": 80}]},
        {"url": "1.png", "bboxes": []},
    ])  # fmt: skip
    out, _ = run("import_annotations", str(boxes), "--dataset", "voc", "--as", "approved")
    assert "2 entries read; 2 images and 1 boxes imported; 0 problem(s)." in out
    assert set(Image.objects.values_list("status", flat=True)) == {"approved"}

    archive = tmp_path / "out" / "voc.zip"
    out, _ = run("export_dataset", "--dataset", "voc", "--out", str(archive), "--sync", "--no-progress")
    assert "2 of 2 images rendered; leak check: 0 residual face(s)" in out
    assert f"Wrote {archive}" in out
    assert verify_manifest(archive) == []
    with zipfile.ZipFile(archive) as zf:
        assert "img/0.png" in zf.namelist()
        blurred = load_pixels(io.BytesIO(zf.read("img/0.png")))
    assert blurred[20:80, 20:70].std() < 40  # random noise is ~74 before the blur
    assert Export.objects.get().status == Export.Status.DONE

    target = tmp_path / "final.json"
    _, err = run("export_annotations", "--dataset", "voc", "--boxes", "final", "--out", str(target))
    assert "Wrote final boxes of 2 images" in err
    assert json.loads(target.read_text()) == [
        {"url": "img/0.png", "bboxes": [{"x0": 20, "y0": 20, "x1": 70, "y1": 80, "score": 1.0}]},
        {"url": "img/1.png", "bboxes": []},
    ]
    coco = tmp_path / "final-coco.json"
    run("export_annotations", "--dataset", "voc", "--boxes", "final", "--format", "coco", "--out", str(coco))
    assert json.loads(coco.read_text())["annotations"][0]["bbox"] == [20, 20, 50, 60]

    quick = tmp_path / "out" / "quick.zip"
    run("export_dataset", "--dataset", "voc", "--out", str(quick), "--sync", "--no-progress", "--quick-leak-check")
    assert Export.objects.latest("pk").options["leak_views"] is False
    assert Export.objects.earliest("pk").options["leak_views"] is True


def test_import_with_problems_lists_each_and_exits_1(dataset, tmp_path):
    boxes = write_json(tmp_path, [
        {"url": "img/0.png", "bboxes": [{"x0": 20, "y0": 20, "x1": 10, "y1": 80}]},
        {"url": "img/9.png", "bboxes": []},
        {"url": "img/1.png", "bboxes": [{"x0": 1, "y0": 1, "x1": 9, "y1": 9}]},
    ])  # fmt: skip
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("import_annotations", str(boxes), "--dataset", "voc", "--as", "approved", stdout=out)
    assert exc.value.code == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("problem: entry 1 (img/0.png), box 1: box [20.0, 20.0, 10.0, 80.0] is inverted")
    assert lines[1] == "problem: entry 2 (img/9.png): no image of voc has this path or file name"
    assert lines[2] == "3 entries read; 1 images and 1 boxes imported; 2 problem(s)."


def test_export_dataset_refuses_what_it_cannot_do(dataset, tmp_path):
    with pytest.raises(CommandError, match="There is no dataset called 'nope'"):
        run("export_dataset", "--dataset", "nope", "--out", str(tmp_path / "x.zip"), "--sync")
    with pytest.raises(CommandError, match="voc has no approved image to export yet"):
        run("export_dataset", "--dataset", "voc", "--out", str(tmp_path / "x.zip"), "--sync")
    with pytest.raises(CommandError, match="voc has no current detection run"):
        run("export_annotations", "--dataset", "voc", "--boxes", "proposals", "--out", str(tmp_path / "p.json"))
    assert not (tmp_path / "x.zip").exists()


def test_export_dataset_fails_with_exit_status_when_a_residual_face_remains(admin_user, tmp_path):
    from skimage.data import astronaut

    ImageFactory(
        dataset=DatasetFactory(release_bound=ANY_LEAK_RATE, name="space2"),
        relative_path="a.png",
        content=encode(astronaut(), "PNG"),
    )
    boxes = write_json(tmp_path, [{"url": "a.png", "bboxes": [{"x0": 200, "y0": 100, "x1": 230, "y1": 130}]}])
    run("import_annotations", str(boxes), "--dataset", "space2", "--as", "approved")
    out = io.StringIO()
    with pytest.raises(CommandError, match="residual face"):
        call_command("export_dataset", "--dataset", "space2", "--out", str(tmp_path / "s.tar"), "--sync",
                     "--fail-on-residual", "--no-progress", stdout=out)  # fmt: skip
    assert "  residual: a.png [" in out.getvalue()
    assert not (tmp_path / "s.tar").exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_export_dataset_without_sync_waits_for_a_real_worker(celery_worker, tmp_path):
    ds = DatasetFactory(release_bound=ANY_LEAK_RATE, name="queued")
    content = encode(np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8), "PNG")
    ImageFactory(dataset=ds, relative_path="p/0.png", content=content)
    boxes = write_json(tmp_path, [{"url": "p/0.png", "bboxes": [{"x0": 20, "y0": 20, "x1": 70, "y1": 80}]}])
    run("import_annotations", str(boxes), "--dataset", "queued", "--as", "approved")
    archive = tmp_path / "queued.tar"
    out, _ = run("export_dataset", "--dataset", "queued", "--out", str(archive), "--no-progress")
    assert "queued; waiting for a worker" in out
    assert "1 of 1 images rendered" in out
    assert verify_manifest(archive) == []


def _approved(tmp_path, name: str) -> None:
    ds = DatasetFactory(release_bound=ANY_LEAK_RATE, name=name)
    content = encode(np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8), "PNG")
    ImageFactory(dataset=ds, relative_path="p/0.png", content=content)
    boxes = write_json(tmp_path, [{"url": "p/0.png", "bboxes": [{"x0": 20, "y0": 20, "x1": 70, "y1": 80}]}])
    run("import_annotations", str(boxes), "--dataset", name, "--as", "approved")


def test_export_dataset_sync_says_why_it_failed_in_a_sentence_not_a_traceback(admin_user, tmp_path, monkeypatch):
    import errno

    from reviewer.imaging import archive as archive_module

    _approved(tmp_path, "full")

    def disk_full(self, name, data, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive_module.ArchiveWriter, "add", disk_full)
    with pytest.raises(CommandError) as caught:
        run("export_dataset", "--dataset", "full", "--out", str(tmp_path / "f.zip"), "--sync", "--no-progress")
    export = Export.objects.get()
    assert (
        str(caught.value)
        == f"Export {export.pk} failed: assembling the export stopped: OSError: [Errno 28] No space left on device"
    )
    assert export.status == Export.Status.FAILED
    assert not export.file_name  # nothing published
    assert not (tmp_path / "f.zip").exists()


def test_export_dataset_sync_says_when_the_archive_cannot_be_written_where_asked(admin_user, tmp_path):
    _approved(tmp_path, "ro")
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    with pytest.raises(
        CommandError, match=r"is done, but its archive could not be written to .*file-not-folder/o\.zip"
    ):
        run("export_dataset", "--dataset", "ro", "--out", str(blocked / "o.zip"), "--sync", "--no-progress")
    assert Export.objects.get().status == Export.Status.DONE
