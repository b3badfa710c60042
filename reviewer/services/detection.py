"""Detection: an admin starts a run, workers process its chunks, the run finishes and may become current.

The database says what is done: a chunk's images each get one DetectionResult (unique per run and image) and
their proposals (unique per run, image and ordinal), written together in one transaction per image. A chunk
processed twice (a redelivered message, a re-queue by reconcile) therefore adds nothing the second time, and a
chunk killed half-way keeps the images it finished.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.env import parse_flag
from reviewer import jobs, policies
from reviewer.errors import Conflict, ServiceError
from reviewer.imaging.detectors import DETECTOR_NAMES, Detector, DetectorError, get_detector
from reviewer.imaging.detectors.base import DetectionSet
from reviewer.imaging.loading import ImageRejected, load_pixels
from reviewer.models import Candidate, Dataset, DetectionChunk, DetectionResult, DetectionRun, Image, Proposal
from reviewer.services.audit import audit_record
from reviewer.services.detection_feed import detection_chunks_create, detection_run_feed
from reviewer.services.heartbeat import RowHeartbeat
from reviewer.services.thumbnails import image_thumbnail_write

logger = logging.getLogger(__name__)

# Keys of a run's settings that are detector options (the rest, e.g. passes, only describe the run).
OPTION_KEYS = ("threshold", "long_side", "thorough", "recall", "candidate_threshold", "second_opinion", "model_path")
# Errors that are not the image's fault: the database, the network, the task's time limit. They end the chunk
# (its task retries), never an image's result.
PASS_THROUGH = (DatabaseError, ConnectionError, TimeoutError, SoftTimeLimitExceeded, MemoryError)
OPEN_CHUNK = (DetectionChunk.Status.QUEUED, DetectionChunk.Status.RUNNING)  # a chunk with work left


def detector_options(*, detector: str, settings: dict[str, Any] | None) -> dict[str, Any]:
    """The options a detector is built with: the admin's choices over Veil's defaults."""
    given = {k: v for k, v in (settings or {}).items() if v is not None and v != ""}
    options: dict[str, Any] = {
        "threshold": given.get("threshold", django_settings.VEIL_DETECTION_THRESHOLD),
        "long_side": given.get("long_side", django_settings.VEIL_DETECTION_LONG_SIDE),
        "thorough": _flag(given.get("thorough", False)),
    }
    if detector == "centerface":
        options["recall"] = _flag(given.get("recall", False))
        if "candidate_threshold" in given:
            options["candidate_threshold"] = given["candidate_threshold"]
        if "second_opinion" in given:  # the safety net's second detector; on unless a caller turns it off
            options["second_opinion"] = _flag(given["second_opinion"])
    if detector == "yunet":
        options["model_path"] = given.get("model_path") or django_settings.VEIL_YUNET_MODEL
    return options


def _flag(value: Any) -> bool:
    """A checkbox or a JSON/CLI value: "on", "true", "1", True are yes; everything else is no."""
    return parse_flag(value) is True


def detector_for_run(run: DetectionRun) -> Detector:
    """The run's detector with the run's own settings (the weights stay cached in the process)."""
    options = {k: v for k, v in run.settings.items() if k in OPTION_KEYS}
    return get_detector(run.detector, **options)


def detection_run_start(
    *, dataset: Dataset, detector: str, settings: dict[str, Any] | None, user, enqueue: bool = True
) -> DetectionRun:
    """Start a detection run over every image of `dataset`.

    Records the detector's name, version, weights hash and settings on the run; cuts the images into chunks of
    VEIL_DETECTION_CHUNK_SIZE, written in bulk (one INSERT ... SELECT on PostgreSQL, pages of ids elsewhere: the
    dataset's ids never come to Python at once), and sends the first VEIL_DETECTION_IN_FLIGHT of them once the
    transaction commits: the others wait in the database and are sent as those finish
    (reviewer.services.detection_feed). enqueue=False
    sends nothing and leaves the chunks to detection_run_process_sync, with no broker (where beat runs,
    reconcile feeds such a run to the workers like any other; a chunk done twice adds nothing).
    Refuses non-admins (Forbidden), unknown detectors or bad settings, and a dataset with no images.
    user=None is a trusted local caller (the `detect` command, scripts), as for imports.
    """
    policies.require_admin(user, "run detection", dataset, system_ok=True)
    name = (detector or django_settings.VEIL_DETECTOR).strip().lower()
    if name not in DETECTOR_NAMES:
        raise ServiceError(f"Unknown detector {detector!r}; choose one of {', '.join(DETECTOR_NAMES)}.", code="invalid")
    try:
        built = get_detector(name, **detector_options(detector=name, settings=settings))
        described = built.describe()
    except (DetectorError, ValueError, TypeError) as exc:
        raise ServiceError(f"Cannot run {name}: {exc}", code="invalid_settings") from exc
    if not dataset.images.exists():
        raise ServiceError(f"Dataset {dataset.name!r} has no images to run detection on.", code="empty_dataset")
    with transaction.atomic():
        waiting = _same_run_waiting(dataset=dataset, detector=name, settings=described["settings"])
        if waiting is not None:
            # A second click (often after "the task queue cannot be reached"): the same work is already queued
            # and nothing of it started. Send what room there is (the chunks the broker did not take are waiting
            # again), and make no second run.
            if enqueue:
                detection_run_feed(run_id=waiting.pk)
            return waiting
        run = DetectionRun.objects.create(
            dataset=dataset,
            created_by=user if getattr(user, "pk", None) else None,
            detector=name,
            detector_version=described["version"][:200],
            weights_sha256=described.get("weights_sha256", ""),
            settings=described["settings"],
        )
        chunks, images = detection_chunks_create(run=run, image_ids=dataset.images.values_list("pk", flat=True))
        DetectionRun.objects.filter(pk=run.pk).update(images_total=images)
        run.refresh_from_db(fields=["images_total", "chunks_total"])
        audit_record(actor=user, verb="detection.started", obj=run, detector=name, settings=run.settings)
        if enqueue:
            detection_run_feed(run_id=run.pk)
    logger.info("detection run %s: %d images in %d chunks", run.pk, images, chunks)
    return run


def _same_run_waiting(*, dataset: Dataset, detector: str, settings: dict[str, Any]) -> DetectionRun | None:
    """A queued run of the same detector and settings on `dataset` none of whose chunks has started."""
    for run in DetectionRun.objects.select_for_update().filter(
        dataset=dataset, detector=detector, status=DetectionRun.Status.QUEUED
    ):
        if run.settings != settings or run.chunks_done or run.chunks_failed:
            continue
        if not run.chunks.filter(DetectionChunk.IN_FLIGHT, status=DetectionChunk.Status.RUNNING).exists():
            return run
    return None


def detection_chunk_process(
    *, chunk_id: int, detector: Detector | None = None, feed: bool = True
) -> DetectionChunk | None:
    """Detect faces on a chunk's images that have no result in its run yet; finish the run if it was the last,
    else send its next waiting chunks (feed=False sends nothing: detection_run_process_sync does all the work).

    Marks the chunk running under a new attempt and beats its heartbeat (DetectionChunk.heartbeat_at, every
    VEIL_WORKER_HEARTBEAT_SECONDS) while it works, so reconcile can tell a killed worker's chunk from a slow one;
    an error the task retries puts the chunk back to queued. Writes, per image and in one transaction, a
    DetectionResult (done with its face count, or failed with the reason the file could not be read), the
    image's proposals and its candidates (the safety net's one search: regions for a second look with their
    evidence and bucket, never blurred) in bulk. Idempotent: images with a result are skipped, and the database
    refuses a second result for the same run and image; the chunk counts once in run.chunks_done, however many
    times it is processed. If the broker cannot be reached to send the next chunks, they wait for reconcile (the
    chunk itself is done). Returns None for a chunk that no longer exists (its run was deleted).
    """
    with transaction.atomic():
        chunk = DetectionChunk.objects.select_related("run").filter(pk=chunk_id).first()
        if chunk is None:
            return None
        if chunk.status in (DetectionChunk.Status.DONE, DetectionChunk.Status.FAILED):
            return chunk
        now = timezone.now()
        attempt = chunk.attempts + 1
        # A running chunk has a queued_at whatever sent it, so it counts as in flight for the feeder and reconcile.
        DetectionChunk.objects.filter(pk=chunk.pk).update(
            status=DetectionChunk.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=attempt,
            queued_at=Coalesce("queued_at", Value(now)),
        )
        DetectionRun.objects.filter(pk=chunk.run_id, status=DetectionRun.Status.QUEUED).update(
            status=DetectionRun.Status.RUNNING, started_at=now
        )

    def beat() -> bool:
        return bool(
            DetectionChunk.objects.filter(pk=chunk.pk, status=DetectionChunk.Status.RUNNING, attempts=attempt).update(
                heartbeat_at=timezone.now()
            )
        )

    try:
        with RowHeartbeat(beat, every=jobs.worker_heartbeat_seconds(), name=f"detection-chunk-{chunk.pk}"):
            _process_images(chunk, detector)
    except BaseException:
        # The task retries (a time limit, the database): the chunk waits for that retry as queued, so reconcile
        # judges it by its queued age, not as a chunk whose worker died.
        with contextlib.suppress(DatabaseError):
            DetectionChunk.objects.filter(pk=chunk.pk, status=DetectionChunk.Status.RUNNING, attempts=attempt).update(
                status=DetectionChunk.Status.QUEUED, queued_at=timezone.now()
            )
        raise
    run = chunk.run
    with transaction.atomic():
        ended = DetectionChunk.objects.filter(pk=chunk.pk, status__in=OPEN_CHUNK).update(
            status=DetectionChunk.Status.DONE, finished_at=timezone.now(), error=""
        )
        if ended:  # not when another delivery of the chunk finished it first: a chunk counts once
            DetectionRun.objects.filter(pk=run.pk).update(chunks_done=F("chunks_done") + 1)
    if Dataset.objects.filter(pk=run.dataset_id, current_detection_run=run).exists():
        _mark_detected(run, chunk.image_ids)  # a retry on the current run: its images are ready at once
    if not detection_run_finish_if_complete(run_id=run.pk) and feed:
        try:
            detection_run_feed(run_id=run.pk)
        except jobs.BrokerUnavailable:
            logger.warning("detection run %s: the next chunks wait for reconcile (the broker is down)", run.pk)
    chunk.refresh_from_db()
    return chunk


def _process_images(chunk: DetectionChunk, detector: Detector | None) -> None:
    """Detect on each of the chunk's images without a result in its run, one transaction per image."""
    run = chunk.run
    detector = detector or detector_for_run(run)
    seen = set(DetectionResult.objects.filter(run=run, image_id__in=chunk.image_ids).values_list("image_id", flat=True))
    images = Image.objects.filter(pk__in=[i for i in chunk.image_ids if i not in seen]).order_by("id")
    max_pixels = django_settings.VEIL_MAX_IMAGE_PIXELS
    for image in images.iterator():
        started = time.perf_counter()
        try:
            with image.file.open("rb") as fh:
                pixels = load_pixels(fh, max_pixels=max_pixels)
            found = _detect_all(detector, pixels)
        except ImageRejected as exc:
            _write_result(run, image, error=exc.message, seconds=time.perf_counter() - started)
            continue
        except (FileNotFoundError, PermissionError) as exc:
            _write_result(
                run, image, error=f"the image file cannot be read: {exc}", seconds=time.perf_counter() - started
            )
            continue
        except DetectorError as exc:
            _write_result(run, image, error=f"the detector failed: {exc}", seconds=time.perf_counter() - started)
            continue
        except PASS_THROUGH:
            raise  # the task retries these; the images done so far are saved
        except Exception as exc:
            # Anything else this one image provokes (an OpenCV error on odd pixels...) fails the image, not the
            # chunk: otherwise the chunk would be retried, fail the same way, and hold up the whole run.
            logger.exception("detection run %s: image %s failed", run.pk, image.pk)
            _write_result(
                run,
                image,
                error=f"unexpected error: {type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - started,
            )
            continue
        try:
            image_thumbnail_write(image=image, pixels=pixels)
        except OSError:  # storage trouble costs the page a slower first view, never the detection
            logger.warning("image %s: its thumbnail could not be written", image.pk, exc_info=True)
        if getattr(detector, "last_truncated", False):
            logger.warning("image %s: the detector returned its maximum number of faces; some may be missing", image.pk)
        _write_result(
            run, image, detections=found.proposals, candidates=found.candidates, seconds=time.perf_counter() - started
        )


def _detect_all(detector, pixels) -> DetectionSet:
    """Proposals and candidates; a detector without candidates (a stand-in, a plug-in) gives proposals only."""
    detect_all = getattr(detector, "detect_all", None)
    return detect_all(pixels) if detect_all else DetectionSet(proposals=detector.detect(pixels), candidates=[])


def _write_result(
    run: DetectionRun, image: Image, *, detections=(), candidates=(), error: str = "", seconds: float = 0.0
) -> None:
    """One image's outcome, proposals and candidates, all or nothing. A concurrent duplicate is dropped."""
    status = DetectionResult.Status.FAILED if error else DetectionResult.Status.DONE
    try:
        with transaction.atomic():
            DetectionResult.objects.create(
                run=run, image=image, status=status, face_count=len(detections), seconds=seconds, error=error
            )
            Proposal.objects.bulk_create(
                Proposal(
                    run=run,
                    image=image,
                    ordinal=ordinal,
                    score=d.score,
                    x0=d.box.x0,
                    y0=d.box.y0,
                    x1=d.box.x1,
                    y1=d.box.y1,
                )
                for ordinal, d in enumerate(detections)
            )
            Candidate.objects.bulk_create(
                Candidate(run=run, image=image, ordinal=ordinal, score=c.score, source=c.source,
                          bucket=getattr(c, "bucket", ""), evidence=getattr(c, "evidence", None) or {},
                          x0=c.box.x0, y0=c.box.y0, x1=c.box.x1, y1=c.box.y1)
                for ordinal, c in enumerate(candidates)
            )  # fmt: skip
    except IntegrityError:
        # Another delivery of this chunk wrote the image first: its rows stand, ours would be duplicates.
        logger.info("detection run %s: image %s already has a result; skipped", run.pk, image.pk)


def _mark_detected(run: DetectionRun, image_ids: list[int] | None = None) -> int:
    """Images still 'new' with a done result in `run` (with or without faces) become 'detected'.

    `image_ids` limits it to one chunk's images, so a run's chunks do not each scan all of its results.
    """
    done = DetectionResult.objects.filter(run=run, status=DetectionResult.Status.DONE)
    if image_ids is not None:
        done = done.filter(image_id__in=image_ids)
    done = done.values("image_id")
    return Image.objects.filter(dataset_id=run.dataset_id, status=Image.Status.NEW, pk__in=done).update(
        status=Image.Status.DETECTED, updated_at=timezone.now()
    )


def detection_run_finish_if_complete(*, run_id: int) -> bool:
    """Close a run whose chunks are all processed: done, or 'done with failures' when an image failed.

    A finished run becomes the dataset's current run unless a run started after it is current already: the admin
    who starts a run (after importing more images, or to try recall mode) wants its proposals, and images it
    covers that no earlier run saw would otherwise stay "imported" with none. "Make current" goes back to an
    older run. Returns whether this call finished the run.
    """
    with transaction.atomic():
        run = DetectionRun.objects.select_for_update().select_related("dataset").filter(pk=run_id).first()
        if run is None or run.status in DetectionRun.FINISHED:
            return False
        # Any chunk in flight, then any waiting, each by its partial index: never a read of the run's done chunks
        # (one OR of the two made PostgreSQL read both indexes whole). While a run goes on, the first answers.
        if run.chunks.filter(DetectionChunk.IN_FLIGHT).exists() or run.chunks.filter(DetectionChunk.WAITING).exists():
            return False
        failed = run.results.filter(status=DetectionResult.Status.FAILED).exists()
        run.status = DetectionRun.Status.FAILED if failed else DetectionRun.Status.DONE
        run.finished_at = timezone.now()
        run.started_at = run.started_at or run.finished_at
        run.save(update_fields=["status", "finished_at", "started_at"])
        dataset = Dataset.objects.select_for_update().get(pk=run.dataset_id)
        current_id = dataset.current_detection_run_id
        if current_id is None or current_id < run.pk:  # ids grow with time: a later run replaces an earlier one
            dataset.current_detection_run = run
            dataset.save(update_fields=["current_detection_run"])
            if current_id is not None:
                audit_record(actor=None, verb="detection.made_current", obj=run, replaced=current_id, automatic=True)
        if dataset.current_detection_run_id == run.pk:
            _mark_detected(run)
    logger.info("detection run %s finished: %s", run.pk, run.status)
    return True


def detection_run_make_current(*, run: DetectionRun, user) -> DetectionRun:
    """Make a finished run the one whose proposals reviewers see. Earlier runs and their proposals stay.

    Refuses non-admins (Forbidden) and a run still in progress (Conflict).
    """
    policies.require_admin(user, "choose the current detection run", run.dataset)
    with transaction.atomic():
        run = DetectionRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in (DetectionRun.Status.DONE, DetectionRun.Status.FAILED):
            raise Conflict(f"Run {run.pk} is {run.get_status_display().lower()}; only a finished run can be current.")
        Dataset.objects.filter(pk=run.dataset_id).update(current_detection_run=run)
        marked = _mark_detected(run)
        audit_record(actor=user, verb="detection.made_current", obj=run, images_marked_detected=marked)
    run.dataset.refresh_from_db()
    return run


def detection_run_retry_failed(*, run: DetectionRun, user) -> int:
    """Run the detector again on the images that failed in `run`, in new chunks of the same run.

    The failed results are removed (they hold only the reason; no proposals) so the retry can write new
    ones; the new chunks are sent as the run's first ones are (at most VEIL_DETECTION_IN_FLIGHT at a time).
    Returns how many images were queued. Refuses non-admins, a run still in progress and a run with
    no failures.
    """
    policies.require_admin(user, "retry detection", run.dataset)
    with transaction.atomic():
        run = DetectionRun.objects.select_for_update().get(pk=run.pk)
        if run.status not in DetectionRun.FINISHED:
            raise Conflict(f"Run {run.pk} is still {run.get_status_display().lower()}; wait for it to finish.")
        failed = run.results.filter(status=DetectionResult.Status.FAILED)
        if not failed.exists():
            raise Conflict(f"Run {run.pk} has no failed images to retry.", code="nothing_to_retry")
        next_index = (run.chunks.order_by("-index").values_list("index", flat=True).first() or 0) + 1
        # The chunks first (they read the failed results by the (run, status, image) index), then the results go.
        _, images = detection_chunks_create(
            run=run, image_ids=failed.values_list("image_id", flat=True), key="image_id", first_index=next_index
        )
        failed.delete()
        run.status = DetectionRun.Status.RUNNING
        run.finished_at = None
        run.save(update_fields=["status", "finished_at"])
        audit_record(actor=user, verb="detection.retried", obj=run, images=images)
        detection_run_feed(run_id=run.pk)
    return images


def detection_run_process_sync(*, run: DetectionRun, progress=None) -> DetectionRun:
    """Process every unfinished chunk of `run` in this process, with no broker (scripts, small sets).

    `progress(chunk)` is called after each chunk.
    """
    detector = detector_for_run(run)
    pending = run.chunks.filter(status__in=OPEN_CHUNK)
    for chunk_id in list(pending.order_by("index").values_list("pk", flat=True)):
        chunk = detection_chunk_process(chunk_id=chunk_id, detector=detector, feed=False)
        if progress is not None and chunk is not None:
            progress(chunk)
    detection_run_finish_if_complete(run_id=run.pk)
    run.refresh_from_db()
    return run
