from django.apps import AppConfig


class ReviewerConfig(AppConfig):
    name = "reviewer"
    verbose_name = "Veil"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, pre_migrate

        from reviewer import checks  # noqa: F401 - registers the system checks

        pre_migrate.connect(_sqlite_counter_triggers_off, sender=self)
        post_migrate.connect(_sqlite_counter_triggers_on, sender=self)


# SQLite adds a column by rebuilding the table, and a trigger on one table that names another being rebuilt makes
# that rebuild fail (and a rebuilt table loses its own triggers). So on SQLite the counter triggers are taken off
# before migrations and put back, with the counters recomputed, after them. PostgreSQL alters tables in place.
def _sqlite_counter_triggers_off(using="default", **_kwargs) -> None:
    from django.db import connections

    from reviewer.models import triggers

    connection = connections[using]
    if connection.vendor == "sqlite":
        triggers.uninstall(connection)


def _sqlite_counter_triggers_on(using="default", plan=None, **_kwargs) -> None:
    from django.db import connections

    from reviewer.models import triggers

    connection = connections[using]
    if connection.vendor != "sqlite" or "reviewer_datasetcounter" not in connection.introspection.table_names():
        return
    triggers.uninstall(connection)
    triggers.install(connection)
    if plan:  # something was migrated: counters may have missed rows written while the triggers were off
        triggers.recompute(connection)
