"""Imports off the request: uploads are written to storage, and a Celery task imports them.

The upload page and the API call `import_queue`, which answers at once; `import_run` is the task's body. Each
stored upload is read back through Django storage, so any worker on any machine can run it. A killed import is
resumed: files_seen is written in the same transaction as each file's row, so it is also the number of entries
already finished, and a retry skips exactly those.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from reviewer import jobs
from reviewer.errors import NotFound, ServiceError, UploadNotStored
from reviewer.imaging import names, sources
from reviewer.jobs import TRANSIENT
from reviewer.models import Dataset, ImportJob
from reviewer.services.ingest import import_finish, ingest_entries, upload_entries

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
LIVE_SECONDS = 120  # a running job whose heartbeat is younger than this has a worker on it


def _label(files: list) -> str:
    return ", ".join(f.name for f in files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def import_queue(
    *, dataset: Dataset, files: Iterable, user=None, source: str = ImportJob.Source.PAGE, paths: list[str] | None = None
) -> ImportJob:
    """Store uploaded files (images or archives) and queue their import; returns the queued job at once.

    Writes: an ImportJob (status queued) listing its uploads, and each upload under imports/<job id>/ in
    default storage (a name Veil chooses, never one from the upload). Enqueues reviewer.tasks.ingest.import_run
    on commit; if the broker cannot be reached, the job stays queued with no sent_at (reconcile sends it at its
    next pass once the broker is back) and BrokerUnavailable (503, naming the import) is raised after the commit.
    Refuses: no file (ServiceError); storage that cannot be written (UploadNotStored, 507: what was stored of this
    upload is deleted and the job rolled back). `paths` may give each upload's relative path.
    """
    files = list(files)
    if not files:
        raise ServiceError("Choose at least one image or archive to import.", code="no_files")
    with transaction.atomic():
        job = ImportJob.objects.create(
            dataset=dataset, source=source, label=names.describe(_label(files), 500), created_by=user,
            status=ImportJob.Status.QUEUED, sent_at=timezone.now(),
        )  # fmt: skip
        uploads = []
        try:
            for index, upload in enumerate(files):
                raw = (paths[index] if paths and index < len(paths) and paths[index] else upload.name) or "upload"
                if "\x00" in raw:  # PostgreSQL's JSON cannot hold a NUL: keep the refusal, not the name
                    uploads.append({"storage": None, "path": names.describe(raw), "nul": True})
                    continue
                stored = default_storage.save(f"imports/{job.pk}/{index:06d}.upload", upload)
                uploads.append({"storage": stored, "path": raw})
        except OSError as exc:  # a read-only or full media folder: keep nothing of this upload (the job rolls back)
            _discard_stored(uploads)
            raise UploadNotStored.from_os_error(exc) from exc
        job.uploads = uploads
        job.save(update_fields=["uploads"])
        jobs.enqueue_on_commit(
            jobs.IMPORT_RUN,
            job.pk,
            on_broker_down=lambda _sent, pk=job.pk: ImportJob.objects.filter(pk=pk).update(sent_at=None),
            message=f"The files are stored as import {job.pk}, but the task queue cannot be reached right now; "
            "the import starts by itself when the queue is back.",
            extra={"import_id": job.pk},
        )
    return job


def _discard_stored(uploads: list[dict]) -> None:
    for upload in uploads:
        if upload.get("storage"):
            try:
                default_storage.delete(upload["storage"])
            except OSError:
                logger.warning("could not delete the stored upload %s", upload["storage"])


def _stored_entries(job: ImportJob) -> Iterator[sources.Entry]:
    for upload in job.uploads:
        if upload.get("nul") or not upload.get("storage"):
            yield sources.Entry(upload["path"], refusal=sources.unsafe_name_refusal("\x00"))
            continue
        with default_storage.open(upload["storage"], "rb") as fh:
            yield from upload_entries(fh, upload["path"])


def import_run(*, import_id: int) -> ImportJob:
    """Import a queued job's stored uploads: the task's body, safe to run again.

    Takes the job from queued (or running, when a killed worker left it so) to done or failed; a job already
    done or failed is returned as it is. Skips the entries an earlier attempt finished (files_seen), so a retry
    adds no duplicate and counts nothing twice. Writes Image rows and ImportRejections as ingest does, and the
    heartbeat every few seconds. Transient database errors and the soft time limit put the job back to queued
    and re-raise (the task retries); any other error fails it with the reason. Deletes the stored uploads when
    the job is done.
    """
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("dataset").filter(pk=import_id).first()
        if job is None:
            raise NotFound(f"Import {import_id} does not exist.")
        if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
            return job
        beat = job.heartbeat_at
        if job.status == ImportJob.Status.RUNNING and beat and beat > timezone.now() - timedelta(seconds=LIVE_SECONDS):
            # Another delivery of the same message while a worker is on it: two would import the same files.
            # A killed worker's job is queued again by reconcile once its heartbeat is old.
            logger.info("import %s is being run by another worker; this delivery does nothing", job.pk)
            return job
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, heartbeat_at=timezone.now())
    last_beat = time.monotonic()

    def heartbeat(_outcome) -> None:
        nonlocal last_beat
        if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
            last_beat = time.monotonic()

    try:
        done = ImportJob.objects.values_list("files_seen", flat=True).get(pk=job.pk)
        entries = itertools.islice(_stored_entries(job), done, None)
        ingest_entries(import_job=job, entries=entries, progress=heartbeat)
    except (*TRANSIENT, SoftTimeLimitExceeded) as exc:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED, error=f"retrying after: {exc!r}")
        raise
    except Exception as exc:
        logger.exception("import %s failed", job.pk)
        return _close(job, error=f"import stopped: {exc.__class__.__name__}: {exc}")
    return _close(job)


def _close(job: ImportJob, *, error: str = "") -> ImportJob:
    finished = import_finish(import_job=job, error=error)
    for upload in job.uploads:
        if upload.get("storage"):
            default_storage.delete(upload["storage"])
    return finished


def import_reconcile(*, now=None) -> list[int]:
    """Send again the imports whose work was lost, and return their ids:
    - queued and never sent (the broker was down when it was queued): at once;
    - queued or running with no heartbeat younger than VEIL_RECONCILE_AFTER_SECONDS (a message dropped by a
      broker restart, a killed worker): put back to queued and sent again. A duplicate delivery finds the job
      running with a fresh heartbeat, or finished, and does nothing.
    If the broker is still down, the rest is left (never sent) for the next pass.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=max(settings.VEIL_RECONCILE_AFTER_SECONDS, LIVE_SECONDS))
    active = [ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
    unsent = ImportJob.objects.filter(status=ImportJob.Status.QUEUED, sent_at__isnull=True)
    stale = ImportJob.objects.filter(status__in=active, started_at__lt=cutoff).exclude(heartbeat_at__gte=cutoff)
    requeued = []
    for job_id in list(unsent.values_list("pk", flat=True)) + list(stale.values_list("pk", flat=True)):
        if job_id in requeued:
            continue
        try:
            with transaction.atomic():
                job = ImportJob.objects.select_for_update().filter(pk=job_id, status__in=active).first()
                never_sent = job is not None and job.status == ImportJob.Status.QUEUED and job.sent_at is None
                beat = job.heartbeat_at if job is not None else None
                lost = job is not None and job.started_at < cutoff and not (beat and beat >= cutoff)
                if not (never_sent or lost):
                    continue  # taken by a worker, or finished, since the queries above
                ImportJob.objects.filter(pk=job_id).update(
                    status=ImportJob.Status.QUEUED, heartbeat_at=now, sent_at=timezone.now()
                )
                jobs.enqueue_on_commit(
                    jobs.IMPORT_RUN,
                    job_id,
                    on_broker_down=lambda _sent, pk=job_id: ImportJob.objects.filter(pk=pk).update(sent_at=None),
                )
        except jobs.BrokerUnavailable:
            break  # still down: this import and the rest stay not sent for the next pass
        requeued.append(job_id)
    return requeued
