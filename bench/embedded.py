"""A throwaway Veil for a benchmark: its own data folder with SQLite and the file broker, never a shared
database, migrated and ready for the ORM."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def embedded_veil(name: str) -> Path:
    """Point this process at a new data folder (`veil-bench-<name>-*` under the temporary folder), set Django up
    on it and migrate; returns the folder. Call before importing anything that reads settings."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"veil-bench-{name}-"))
    os.environ.update({"VEIL_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "config.settings"})
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "VEIL_DATABASE_NAME"):
        os.environ.pop(key, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return data_dir
