"""The admin's image viewer: the review page's editor over one image with every set of boxes Veil holds for it.

Edits are saved through the approval API (api/views/workflow.py ImageApproveView -> approval.image_approve), so
the viewer and the approval queue refuse the same input with the same words, stale saves included (409).
"""

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from reviewer import policies
from reviewer.selectors.viewer import image_for_viewer, image_viewer_state


@require_GET
def image_viewer(request, dataset_id: int, image_id: int):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    # Anyone but an admin gets the same 404 as for an image that does not exist: the page reveals nothing.
    image = image_for_viewer(image_id=image_id)
    if image is None or image.dataset_id != dataset_id or not policies.can_open_image_viewer(request.user, image):
        raise Http404("No such image.")
    state = image_viewer_state(image=image)
    return render(request, "reviewer/viewer/page.html", {"image": image, "dataset": image.dataset, "state": state})


urlpatterns = [
    path("datasets/<int:dataset_id>/images/<int:image_id>/", image_viewer, name="image-viewer"),
]
