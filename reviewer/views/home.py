from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import path

from reviewer import policies


@login_required
def home(request):
    """Admins land on their datasets, reviewers on their queue."""
    if policies.is_admin(request.user):
        return redirect("dataset-list")
    return redirect("reviewer-home")


urlpatterns = [path("", home, name="home")]
