"""Pages. Each area of the flow keeps its routes beside its views."""

from reviewer.views import (
    audit,
    crowd,
    crowd_admin,
    dashboards,
    dataset_settings,
    datasets,
    detection,
    exports,
    files,
    home,
    people,
    review,
    safety,
    tokens,
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
    *crowd.urlpatterns,
    *crowd_admin.urlpatterns,
    *tokens.urlpatterns,
]
