"""examples/pipeline.py against a live server and a real Celery worker: the whole flow with two tokens."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from skimage import data

from examples import pipeline
from reviewer.imaging.archive import read_manifest
from reviewer.models import Export, Image, Review
from reviewer.services.tokens import token_create
from tests.factories import AdminFactory, UserFactory
from tests.images import encode


@pytest.mark.worker
def test_the_example_client_runs_the_whole_flow(live_server, celery_worker, tmp_path):
    admin, reviewer = AdminFactory(username="lab-admin"), UserFactory(username="lab-reviewer")
    _, admin_token = token_create(owner=admin, name="pipeline")
    _, reviewer_token = token_create(owner=reviewer, name="pipeline")
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "astronaut.jpg").write_bytes(encode(data.astronaut(), "JPEG"))
    noise = np.random.default_rng(7).integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    (folder / "noise.png").write_bytes(encode(noise, "PNG"))
    out = tmp_path / "blurred.zip"

    code = pipeline.main(
        ["--url", live_server.url, "--admin-token", admin_token, "--reviewer-token", reviewer_token,
         "--images", str(folder), "--out", str(out), "--timeout", "240",
         "--override-gate", "example run: no gold images or audit on three test photos"]
    )  # fmt: skip

    assert code == 0, celery_worker.log()[-3000:]
    export = Export.objects.get()
    assert export.status == Export.Status.DONE
    assert set(Image.objects.values_list("status", flat=True)) == {"approved"}
    assert Review.objects.filter(reviewer=reviewer).count() == 2
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as zf:
        manifest = read_manifest(out)
        by_name = {entry["source_path"]: entry for entry in manifest["images"]}
        assert set(by_name) == {"astronaut.jpg", "noise.png"}
        assert by_name["astronaut.jpg"]["boxes"]  # the detector's face, accepted by the reviewer
        assert by_name["noise.png"]["boxes"] == [[10.0, 10.0, 60.0, 60.0]]  # the box the reviewer drew
        assert {"annotations/coco.json"} <= set(zf.namelist())
        # Without gold or an audit the gate refused; the example overrode it, and the manifest says so and why.
        gate = manifest["release_gate"]
        assert gate["override"]["reason"] == "example run: no gold images or audit on three test photos"
        assert gate["upper"] == 1.0


def test_the_example_client_stops_with_a_sentence_on_a_bad_token(live_server, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(encode(data.astronaut(), "JPEG"))
    code = pipeline.main(
        ["--url", live_server.url, "--admin-token", "veil_wrong", "--reviewer-token", "veil_wrong",
         "--images", str(folder)]
    )  # fmt: skip
    assert code == 1
    assert "answered 401" in capsys.readouterr().err
