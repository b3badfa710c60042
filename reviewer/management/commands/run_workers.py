"""Run a Celery worker and (unless --no-beat) the beat scheduler, each supervised: a child that dies is started
again and the log says so (config/supervisor.py)."""

import logging
import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from config.supervisor import Child, Supervisor, celery_argv
from reviewer import jobs


class Command(BaseCommand):
    help = (
        "Run the Celery worker (work and reconcile queues) and the beat scheduler as supervised processes. Run beat "
        "on one machine only: elsewhere use --no-beat."
    )

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=int(os.environ.get("VEIL_WORKER_CONCURRENCY", "2")))
        parser.add_argument("--no-beat", action="store_true", help="the worker only (beat runs on another machine)")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, concurrency, no_beat, loglevel, **options):
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="[%(asctime)s: %(levelname)s] %(message)s")
        data_dir = Path(settings.VEIL_DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        children = [
            Child(
                "worker",
                celery_argv(
                    "worker",
                    f"--loglevel={loglevel}",
                    f"--concurrency={concurrency}",
                    f"--queues={','.join(jobs.QUEUES)}",
                ),
            )
        ]
        if not no_beat:
            children.append(
                Child(
                    "beat",
                    celery_argv(
                        "beat",
                        f"--loglevel={loglevel}",
                        f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
                        f"--pidfile={data_dir / 'celerybeat.pid'}",
                    ),
                    pidfile=data_dir / "celerybeat.pid",
                )
            )
        Supervisor(children).run()
