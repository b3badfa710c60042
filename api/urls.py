"""The REST API, version 1, mounted at /api/v1/ (and, for clients written before it, at /api/).

Each area keeps its routes beside its views; the schema and its two readers (Swagger UI, Redoc) are served from
local static files (drf-spectacular-sidecar), never from a CDN.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from api.views import accounts, approval, datasets, detection, exports, review, safety, workflow

resource_patterns = [
    *datasets.urlpatterns,
    *detection.urlpatterns,
    *review.urlpatterns,
    *exports.urlpatterns,
    *workflow.urlpatterns,
    *safety.urlpatterns,
    *approval.urlpatterns,
    *accounts.urlpatterns,
]

urlpatterns = [
    *resource_patterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path(
        "redoc/", SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"), name="api-redoc"
    ),
]
