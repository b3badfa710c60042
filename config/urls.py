from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.urls import resource_patterns
from crowd.views.workers import VeilLogoutView

urlpatterns = [
    path("django-admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", VeilLogoutView.as_view(), name="logout"),
    path("api/v1/", include("api.urls")),
    # The paths from before /api/v1/ (the review page, scripts): the same views, under their own namespace so
    # reverse() names the v1 URL.
    path("api/", include((resource_patterns, "legacy"), namespace="legacy")),
    path("", include("reviewer.urls")),
    path("", include("crowd.urls")),
]
