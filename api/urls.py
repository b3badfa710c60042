"""The REST API. Each area keeps its routes beside its views."""

from api.views import datasets, detection, exports, review, safety, workflow

urlpatterns = [
    *datasets.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
    *workflow.urlpatterns,
    *safety.urlpatterns,
]
