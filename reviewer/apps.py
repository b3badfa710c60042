from django.apps import AppConfig


class ReviewerConfig(AppConfig):
    name = "reviewer"
    verbose_name = "Veil"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, pre_migrate

        from reviewer import checks  # noqa: F401 - registers the system checks

        pre_migrate.connect(_sqlite_counter_triggers_off, sender=self)
        post_migrate.connect(_counter_triggers_on, sender=self)
        _make_data_folders()


def _make_data_folders() -> None:
    """The folders settings name (uploads' spill folder, static files, the embedded broker's queues), made once
    the app starts, in the web process and the worker alike. A folder that cannot be made is left to fail where
    it is used; large uploads then spill to the system's temporary folder instead."""
    import logging

    from django.conf import settings

    for folder in settings.VEIL_DATA_FOLDERS:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            logging.getLogger(__name__).warning("cannot create %s: %s", folder, exc)
            if str(folder) == settings.FILE_UPLOAD_TEMP_DIR:
                settings.FILE_UPLOAD_TEMP_DIR = None


# SQLite adds a column by rebuilding the table, and a trigger on one table that names another being rebuilt makes
# that rebuild fail (and a rebuilt table loses its own triggers). So on SQLite the counter triggers are taken off
# before migrations and put back, with the counters recomputed, after them. PostgreSQL alters tables in place, so
# there the triggers stay, and every migrate compares them with the code and reinstalls them (recomputing the
# counters) when they differ: an edit to reviewer/models/triggers.py reaches every existing database the same way.
_SQLITE_DRIFTED: dict[str, bool] = {}


def _sqlite_counter_triggers_off(using="default", **_kwargs) -> None:
    from django.db import connections

    from reviewer.models import triggers

    connection = connections[using]
    if connection.vendor == "sqlite" and "reviewer_datasetcounter" in connection.introspection.table_names():
        # Triggers that were not the code's may have missed writes: post_migrate recomputes then.
        _SQLITE_DRIFTED[using] = bool(triggers.drift(connection))
        triggers.uninstall(connection)


def _counter_triggers_on(using="default", plan=None, **_kwargs) -> None:
    from django.db import connections

    from reviewer.models import triggers

    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    if "reviewer_datasetcounter" not in connection.introspection.table_names():
        return
    if connection.vendor == "postgresql":
        triggers.ensure_installed(connection)
        return
    triggers.uninstall(connection)
    triggers.install(connection)
    # Something was migrated (counters may have missed rows written while the triggers were off), or the triggers
    # were not the code's.
    if plan or _SQLITE_DRIFTED.pop(using, False):
        triggers.recompute(connection)
