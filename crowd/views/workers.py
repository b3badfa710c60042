"""The crowd worker's pages: the invite landing, instructions, qualification round, work and completion code.

Every page here may be shown inside a platform's frame (MTurk's ExternalQuestion): crowd.middleware.CrowdFrame
allows the configured origins for these URL names only. A refused link answers with a page that says why and
the matching status: 404 for a link Veil never made (or altered), 410 for one expired, used up or withdrawn.
"""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crowd.forms import QualificationAnswerForm
from crowd.models import InstructionExample, QualificationAttempt
from crowd.selectors import studies as selectors
from crowd.services import onboarding, studies
from crowd.services import qualification as qualification_services
from reviewer import policies
from reviewer.errors import Conflict, Forbidden, NotFound, ServiceError
from reviewer.forms import form_error_text
from reviewer.models import Dataset, Image
from reviewer.services.thumbnails import image_display_get
from reviewer.views.files import _private_response

BACKEND = "django.contrib.auth.backends.ModelBackend"
MTURK_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")


def refused(request, exc: ServiceError, *, title: str = "This link cannot be used"):
    return render(request, "crowd/refused.html", {"title": title, "message": exc.message}, status=exc.http_status)


@require_http_methods(["GET", "POST"])
def join(request, token: str):
    """GET checks the link and shows what it is; POST (the Start button) makes or finds the account.

    A GET never creates anything, so a link preview or a mail scanner cannot spend a use of the link.
    """
    params = request.GET
    try:
        invite = onboarding.invite_from_token(token)
        onboarding.worker_identity(params)
    except ServiceError as exc:
        return refused(request, exc)
    preview = params.get("assignmentId") == onboarding.MTURK_PREVIEW
    if request.method == "GET" or preview:
        setup = studies.crowd_setup_for(invite.dataset)
        return render(
            request,
            "crowd/join.html",
            {"invite": invite, "setup": setup, "preview": preview, "query": request.GET.urlencode()},
        )
    try:
        joined = onboarding.invite_accept(
            token=token,
            params=params,
            current_user=request.user,
            browser_key=request.COOKIES.get(onboarding.BROWSER_KEY_COOKIE, ""),
        )
    except ServiceError as exc:
        return refused(request, exc)
    if request.user != joined.user:
        login(request, joined.user, backend=BACKEND)
    # Back from the platform's link: where they left off, not the instructions again.
    response = redirect("crowd-hub" if joined.is_rejoin else "crowd-instructions", joined.participation.pk)
    if joined.browser_key:  # this browser made the account: it keeps the key that lets it come back by the link
        response.set_cookie(
            onboarding.BROWSER_KEY_COOKIE,
            joined.browser_key,
            max_age=onboarding.BROWSER_KEY_DAYS * 86400,
            httponly=True,
            secure=request.is_secure(),
            samesite="None" if request.is_secure() else "Lax",  # inside the platform's frame over HTTPS
        )
    return response


def _participation(request, participation_id: int):
    try:
        return selectors.participation_of(user=request.user, participation_id=participation_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_GET
def crowd_home(request):
    """Where a crowd worker lands (My batches redirects here): their latest study's next step."""
    participation = selectors.latest_participation(user=request.user)
    if participation is None:
        return redirect("reviewer-home")
    return redirect("crowd-hub", participation.pk)


@login_required
@require_GET
def hub(request, participation_id: int):
    """The worker's steps: instructions, qualification, work, completion code; and a sign-in link."""
    participation = _participation(request, participation_id)
    dataset = participation.invite.dataset
    return render(
        request,
        "crowd/hub.html",
        {
            "participation": participation,
            "dataset": dataset,
            "qualification": selectors.qualification_state(user=request.user, dataset=dataset),
            "images_done": studies.participation_images_done(participation),
            "is_crowd_worker": policies.is_crowd_worker(request.user),
        },
    )


@login_required
@require_GET
def instructions(request, dataset_id: int):
    """The dataset's instructions with example images and their expected boxes, and the keys."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    if not policies.can_read_instructions(request.user, dataset):
        raise Http404("No such dataset among yours.")
    participation = selectors.latest_participation(user=request.user)
    if participation is not None and participation.invite.dataset_id != dataset.pk:
        participation = None
    return render(
        request,
        "crowd/instructions.html",
        {
            "dataset": dataset,
            "setup": studies.crowd_setup_for(dataset),
            "examples": selectors.instruction_examples(dataset),
            "participation": participation,
        },
    )


@login_required
@require_GET
def participation_instructions(request, participation_id: int):
    participation = _participation(request, participation_id)
    return redirect("crowd-dataset-instructions", participation.invite.dataset_id)


@login_required
@require_GET
def example_image(request, example_id: int):
    example = get_object_or_404(InstructionExample.objects.select_related("image", "dataset"), pk=example_id)
    if not policies.can_read_instructions(request.user, example.dataset):
        raise Http404("No such image.")
    return _private_response(*image_display_get(image=example.image))


@login_required
@require_GET
def qualification_image(request, attempt_id: int, image_id: int):
    attempt = QualificationAttempt.objects.filter(pk=attempt_id, reviewer=request.user).first()
    if attempt is None or image_id not in attempt.image_ids:
        raise Http404("No such image.")
    return _private_response(*image_display_get(image=get_object_or_404(Image, pk=image_id)))


def _qualification_page(request, participation, attempt, *, feedback=None, form_error=None, status=200):
    image_id = qualification_services.next_image_id(attempt) if attempt.result == attempt.Result.OPEN else None
    image = Image.objects.get(pk=image_id) if image_id else None
    proposals, candidates = [], []
    if image is not None and image.dataset.current_detection_run_id:
        run = image.dataset.current_detection_run
        proposals = [p.box.as_list() for p in run.proposals.filter(image=image).order_by("ordinal")]
        # Shown as on the review page, to learn the same keys on; an answer is only its boxes.
        candidates = [
            {"id": c.pk, "box": c.box.as_list(), "score": round(c.score, 4), "source": c.source}
            for c in run.candidates.filter(image=image).order_by("ordinal")
        ]
    shown = feedback.answer.image if feedback else None
    setup = studies.crowd_setup_for(participation.invite.dataset)
    return render(
        request,
        "crowd/qualify.html",
        {
            "participation": participation,
            "attempt": attempt,
            "setup": setup,
            "image": image,
            "answered": attempt.answers.count(),
            "state": {
                "image": None
                if image is None
                else {
                    "id": image.pk,
                    "width": image.width,
                    "height": image.height,
                    "url": reverse("crowd-qualification-image", args=[attempt.pk, image.pk]),
                    "proposals": proposals,
                    "candidates": candidates,
                },
            },
            "feedback": feedback,
            "feedback_image": shown,
            "feedback_url": reverse("crowd-qualification-image", args=[attempt.pk, shown.pk]) if shown else "",
            "form_error": form_error,
            "qualification": selectors.qualification_state(user=request.user, dataset=participation.invite.dataset),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def qualify(request, participation_id: int):
    """GET: the next gold image of the open try (starting one when none is open). POST: score one answer and
    show the feedback at once, with the missed faces drawn."""
    participation = _participation(request, participation_id)
    dataset = participation.invite.dataset
    state = selectors.qualification_state(user=request.user, dataset=dataset)
    if not state.required or state.passed:
        return redirect("crowd-hub", participation.pk)
    if request.method == "GET":
        try:
            attempt = qualification_services.qualification_start(reviewer=request.user, dataset=dataset)
        except ServiceError as exc:
            return refused(request, exc, title="Qualification round")
        return _qualification_page(request, participation, attempt)
    attempt = state.open_attempt
    if attempt is None:
        return redirect("crowd-qualify", participation.pk)
    form = QualificationAnswerForm(request.POST)
    if not form.is_valid():
        message = form_error_text(form)
        return _qualification_page(request, participation, attempt, form_error=message, status=400)
    try:
        feedback = qualification_services.qualification_answer(
            reviewer=request.user,
            attempt_id=attempt.pk,
            image_id=form.cleaned_data["image"],
            boxes=form.cleaned_data["boxes"],
            seconds_spent=form.cleaned_data.get("seconds") or 0.0,
        )
    except Conflict as exc:  # a resubmitted form: show where the try stands
        return _qualification_page(request, participation, attempt, form_error=exc.message, status=409)
    except ServiceError as exc:
        return _qualification_page(request, participation, attempt, form_error=exc.message, status=exc.http_status)
    return _qualification_page(request, participation, feedback.attempt, feedback=feedback)


@login_required
@require_POST
def work(request, participation_id: int):
    """Send the worker into a pool batch of the study (after the qualification round, when there is one)."""
    participation = _participation(request, participation_id)
    try:
        assignment = studies.participation_begin_work(participation=participation)
    except Conflict:
        return redirect("crowd-done", participation.pk)
    except Forbidden:
        return redirect("crowd-qualify", participation.pk)
    except NotFound as exc:
        return refused(request, exc, title="No work left")
    return redirect("review-batch-start", assignment.batch_id)


@login_required
@require_http_methods(["GET", "POST"])
def done(request, participation_id: int):
    """GET: the completion code once issued, with the way back to the platform, else a button to finish. POST
    (that button): issue the code when the work is finished, then show it. A GET changes nothing, so a
    prefetch or a reload never finishes a study on the worker's behalf."""
    participation = _participation(request, participation_id)
    if request.method == "POST":
        try:
            studies.participation_complete(participation=participation)
        except Conflict as exc:
            return render(
                request,
                "crowd/done.html",
                {
                    "participation": participation,
                    "unfinished": exc.message,
                    "images_done": studies.participation_images_done(participation),
                },
                status=409,
            )
        return redirect("crowd-done", participation.pk)
    if participation.completed_at is None:
        return render(
            request,
            "crowd/done.html",
            {"participation": participation, "images_done": studies.participation_images_done(participation)},
        )
    params = participation.platform_params
    submit_to = params.get("turkSubmitTo", "").rstrip("/")
    return render(
        request,
        "crowd/done.html",
        {
            "participation": participation,
            "images_done": studies.participation_images_done(participation),
            "redirect_url": studies.completion_redirect_url(participation),
            "mturk_submit": f"{submit_to}/mturk/externalSubmit"
            if submit_to in MTURK_SUBMIT_HOSTS and params.get("assignmentId")
            else "",
            "mturk_assignment": params.get("assignmentId", ""),
        },
    )


@login_required
@require_POST
def sign_in_link_create(request):
    try:
        token = onboarding.sign_in_link_create(user=request.user)
    except ServiceError as exc:
        return refused(request, exc, title="Sign-in link")
    link = request.build_absolute_uri(reverse("crowd-sign-in", args=[token]))
    return render(request, "crowd/sign_in_link.html", {"link": link, "minutes": onboarding.SIGN_IN_LINK_MINUTES})


@require_http_methods(["GET", "POST"])
def sign_in(request, token: str):
    """GET asks for a click (a mail scanner must not spend the link); POST spends it and signs in."""
    if request.method == "GET":
        return render(request, "crowd/sign_in.html", {})
    try:
        user = onboarding.sign_in_link_use(token=token)
    except ServiceError as exc:
        return refused(request, exc, title="This sign-in link cannot be used")
    login(request, user, backend=BACKEND)
    return redirect("crowd-home")


class VeilLogoutView(LogoutView):
    """Django's log out; a crowd worker, who has no password, lands on a page that says how to come back instead
    of a username and password form they cannot use."""

    def post(self, request, *args, **kwargs):
        was_crowd_worker = policies.is_crowd_worker(request.user)
        response = super().post(request, *args, **kwargs)
        return redirect("crowd-signed-out") if was_crowd_worker else response


@require_GET
def signed_out(request):
    return render(request, "crowd/signed_out.html", {})


urlpatterns = [
    path("join/<str:token>/", join, name="crowd-join"),
    path("crowd/", crowd_home, name="crowd-home"),
    path("crowd/sign-in-link", sign_in_link_create, name="crowd-sign-in-link"),
    path("crowd/sign-in/<str:token>", sign_in, name="crowd-sign-in"),
    path("crowd/signed-out", signed_out, name="crowd-signed-out"),
    path("crowd/studies/<int:participation_id>/", hub, name="crowd-hub"),
    path("crowd/studies/<int:participation_id>/instructions", participation_instructions, name="crowd-instructions"),
    path("crowd/studies/<int:participation_id>/qualify", qualify, name="crowd-qualify"),
    path("crowd/studies/<int:participation_id>/work", work, name="crowd-work"),
    path("crowd/studies/<int:participation_id>/done", done, name="crowd-done"),
    path("crowd/datasets/<int:dataset_id>/instructions", instructions, name="crowd-dataset-instructions"),
    path("crowd/examples/<int:example_id>/image", example_image, name="crowd-example-image"),
    path("crowd/qualify/<int:attempt_id>/images/<int:image_id>", qualification_image, name="crowd-qualification-image"),
]
