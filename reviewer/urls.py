"""Pages. Each area of the flow keeps its routes beside its views."""

from reviewer.views import crowd, crowd_admin, datasets, detection, exports, files, home, review, workflow

urlpatterns = [
    *home.urlpatterns,
    *datasets.urlpatterns,
    *files.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
    *workflow.urlpatterns,
    *crowd.urlpatterns,
    *crowd_admin.urlpatterns,
]
