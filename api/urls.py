"""The REST API. Each area keeps its routes beside its views."""

from api.views import datasets, detection, exports, review

urlpatterns = [
    *datasets.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
]
