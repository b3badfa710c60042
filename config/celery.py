"""The Celery app. Workers: `celery -A config worker`; the periodic reconcile step: `celery -A config beat`."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("veil")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _announce_ready(**_kwargs) -> None:
    # Lets a supervisor (the test suite, a start script) wait for a worker without remote control, which the
    # embedded file broker does not offer.
    ready_file = os.environ.get("VEIL_WORKER_READY_FILE")
    if ready_file:
        Path(ready_file).write_text(str(os.getpid()))
