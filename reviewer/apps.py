from django.apps import AppConfig


class ReviewerConfig(AppConfig):
    name = "reviewer"
    verbose_name = "Veil"

    def ready(self) -> None:
        from reviewer import checks  # noqa: F401 - registers the system checks
