"""Pages. Each area of the flow keeps its routes beside its views."""

from reviewer.views import datasets, detection, exports, files, home, review, tokens, workflow

urlpatterns = [
    *home.urlpatterns,
    *datasets.urlpatterns,
    *files.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
    *workflow.urlpatterns,
    *tokens.urlpatterns,
]
