"""Pages. Each area of the flow keeps its routes beside its views."""

from reviewer.views import (
    audit,
    dashboards,
    dataset_settings,
    datasets,
    detection,
    exports,
    files,
    health,
    home,
    people,
    review,
    safety,
    tokens,
    triage,
    viewer,
    workflow,
)

urlpatterns = [
    *home.urlpatterns,
    *datasets.urlpatterns,
    *files.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
    *workflow.urlpatterns,
    *people.urlpatterns,
    *dataset_settings.urlpatterns,
    *audit.urlpatterns,
    *dashboards.urlpatterns,
    *viewer.urlpatterns,
    *safety.urlpatterns,
    *tokens.urlpatterns,
    *health.urlpatterns,
    *triage.urlpatterns,
]
