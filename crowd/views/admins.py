"""The admin's crowd page of a dataset: instructions and examples, qualification settings, invite links, the
completion-code check and the pay sheet."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from crowd.forms import CodeCheckForm, CrowdSetupForm, ExampleForm, InviteForm, PaySheetForm
from crowd.models import InstructionExample, Invite
from crowd.selectors import studies as selectors
from crowd.services import onboarding, studies
from reviewer.errors import ServiceError
from reviewer.forms import form_error_text
from reviewer.forms.workflow import parse_boxes
from reviewer.models import Dataset, Image
from reviewer.views.access import admin_required


def invite_link(request, invite: Invite) -> str:
    return request.build_absolute_uri(reverse("crowd-join", args=[onboarding.invite_token(invite)]))


def _page(request, dataset: Dataset, *, status: int = 200, **forms):
    setup = studies.crowd_setup_for(dataset)
    start, end = selectors.default_period()
    context = {
        "dataset": dataset,
        "setup": setup,
        "setup_form": forms.get("setup_form")
        or CrowdSetupForm(
            initial={
                "instructions": setup.instructions,
                "qualification_size": setup.qualification_size,
                "max_mistakes": setup.max_mistakes,
                "max_tries": setup.max_tries,
                "miss_rate_limit": setup.miss_rate_limit,
                "completion_url": setup.completion_url,
            }
        ),
        "invite_form": forms.get("invite_form") or InviteForm(),
        "example_form": forms.get("example_form") or ExampleForm(),
        "code_form": forms.get("code_form") or CodeCheckForm(),
        "pay_form": PaySheetForm(initial={"start": start.date(), "end": end.date()}),
        "checked": forms.get("checked"),
        "invites": [(invite, invite_link(request, invite)) for invite in selectors.invites_of(dataset)],
        "examples": selectors.instruction_examples(dataset),
        "gold_available": studies.qualification_pool(dataset).count(),
        "now": timezone.now(),
    }
    return render(request, "crowd/admin.html", context, status=status)


@admin_required
def crowd_page(request, dataset_id: int):
    return _page(request, get_object_or_404(Dataset, pk=dataset_id))


@admin_required
@require_POST
def setup_save(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = CrowdSetupForm(request.POST)
    if not form.is_valid():
        return _page(request, dataset, setup_form=form, status=400)
    try:
        studies.crowd_setup_save(dataset=dataset, actor=request.user, **form.cleaned_data)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, dataset, setup_form=form, status=exc.http_status)
    messages.success(request, "Saved the crowd setup.")
    return redirect("crowd-admin", dataset.pk)


@admin_required
@require_POST
def invite_create(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _page(request, dataset, invite_form=form, status=400)
    try:
        invite = onboarding.invite_create(dataset=dataset, actor=request.user, **form.cleaned_data)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, dataset, invite_form=form, status=exc.http_status)
    messages.success(request, f"New invite link: {invite_link(request, invite)}")
    return redirect("crowd-admin", dataset.pk)


@admin_required
@require_POST
def invite_revoke(request, invite_id: int):
    invite = get_object_or_404(Invite.objects.select_related("dataset"), pk=invite_id)
    try:
        onboarding.invite_revoke(invite=invite, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Revoked the link: nobody new can join by it.")
    return redirect("crowd-admin", invite.dataset_id)


@admin_required
@require_POST
def example_add(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = ExampleForm(request.POST)
    if not form.is_valid():
        return _page(request, dataset, example_form=form, status=400)
    image = Image.objects.filter(dataset=dataset, relative_path=form.cleaned_data["relative_path"].strip()).first()
    try:
        boxes = parse_boxes(form.cleaned_data["boxes"])
    except ValidationError as exc:
        form.add_error("boxes", exc)
        return _page(request, dataset, example_form=form, status=400)
    try:
        if image is None:
            raise ServiceError(f"No image {form.cleaned_data['relative_path']!r} in this dataset.")
        studies.instruction_example_add(
            dataset=dataset,
            actor=request.user,
            image=image,
            caption=form.cleaned_data["caption"],
            boxes=boxes,
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _page(request, dataset, example_form=form, status=exc.http_status)
    messages.success(request, f"Added {image.relative_path} to the instructions.")
    return redirect("crowd-admin", dataset.pk)


@admin_required
@require_POST
def example_remove(request, example_id: int):
    example = get_object_or_404(InstructionExample, pk=example_id)
    studies.instruction_example_remove(example=example, actor=request.user)
    messages.success(request, "Removed the example.")
    return redirect("crowd-admin", example.dataset_id)


@admin_required
@require_POST
def code_check(request, dataset_id: int):
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = CodeCheckForm(request.POST)
    if not form.is_valid():
        return _page(request, dataset, code_form=form, status=400)
    participation = studies.completion_code_check(form.cleaned_data["code"])
    if participation is not None and participation.invite.dataset_id != dataset.pk:
        participation = None
    return _page(request, dataset, code_form=form, checked={"code": form.cleaned_data["code"], "p": participation})


@admin_required
def pay_sheet(request, dataset_id: int):
    """The pay sheet of a period as CSV (dates inclusive, in the server's time zone)."""
    dataset = get_object_or_404(Dataset, pk=dataset_id)
    form = PaySheetForm(request.GET)
    if not form.is_valid():
        message = form_error_text(form)
        return HttpResponse(f"Pay sheet refused: {message}\n", status=400, content_type="text/plain; charset=utf-8")
    zone = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(form.cleaned_data["start"], time.min), zone)
    end = timezone.make_aware(datetime.combine(form.cleaned_data["end"] + timedelta(days=1), time.min), zone)
    body = selectors.pay_sheet_csv(dataset=dataset, start=start, end=end)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    name = f"paysheet-{dataset.pk}-{form.cleaned_data['start']}-{form.cleaned_data['end']}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


urlpatterns = [
    path("datasets/<int:dataset_id>/crowd/", crowd_page, name="crowd-admin"),
    path("datasets/<int:dataset_id>/crowd/setup", setup_save, name="crowd-admin-setup"),
    path("datasets/<int:dataset_id>/crowd/invites", invite_create, name="crowd-admin-invite"),
    path("datasets/<int:dataset_id>/crowd/examples", example_add, name="crowd-admin-example"),
    path("datasets/<int:dataset_id>/crowd/codes", code_check, name="crowd-admin-code"),
    path("datasets/<int:dataset_id>/crowd/paysheet.csv", pay_sheet, name="crowd-admin-paysheet"),
    path("crowd/invites/<int:invite_id>/revoke", invite_revoke, name="crowd-admin-invite-revoke"),
    path("crowd/examples/<int:example_id>/remove", example_remove, name="crowd-admin-example-remove"),
]
