"""The people page: admins create, deactivate and reset the password of reviewers and admins."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from reviewer.errors import ServiceError
from reviewer.forms.people import PersonActionForm, PersonCreateForm
from reviewer.models import User
from reviewer.selectors.people import people_page
from reviewer.services import accounts
from reviewer.views.access import admin_required
from reviewer.views.actions import page_action


def _render(request, *, form=None, shown_password=None, status=200):
    after = request.GET.get("after") or None
    role = request.GET.get("role") or None
    people, next_after = people_page(after=after, role=role)
    context = {
        "form": form or PersonCreateForm(),
        "people": people,
        "next_after": next_after,
        "role": role,
        "roles": User.Role.choices,
        "shown_password": shown_password,
    }
    return render(request, "reviewer/people/list.html", context, status=status)


@admin_required
def people_list(request):
    return _render(request)


@admin_required
@require_POST
def person_create(request):
    form = PersonCreateForm(request.POST)
    if not form.is_valid():
        return _render(request, form=form, status=400)
    data = form.cleaned_data
    try:
        user, password = accounts.user_create(
            username=data["username"],
            role=data["role"],
            email=data["email"],
            password=data["password"] or None,
            actor=request.user,
        )
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _render(request, form=form, status=400)
    if data["password"]:
        messages.success(request, f"{user.get_role_display()} {user.username} created with the password you typed.")
        return redirect("people")
    # A generated password is shown in this answer only: never put in a message, a cookie or a log.
    return _render(request, shown_password=(user, password))


@admin_required
@require_POST
def person_action(request, user_id: int):
    person = get_object_or_404(User, pk=user_id)

    def run(data):
        if data["action"] == "reset_password":  # the new password is shown in this answer only
            return _render(
                request, shown_password=(person, accounts.user_reset_password(user=person, actor=request.user))
            )
        accounts.user_set_active(user=person, is_active=data["action"] == "activate", actor=request.user)
        return data["action"]

    return page_action(
        request,
        back="people",
        form=PersonActionForm(request.POST),
        run=run,
        done=lambda action: (
            f"{person.username} {'reactivated' if action == 'activate' else 'deactivated: they can no longer log in'}."
        ),
    )


urlpatterns = [
    path("people/", people_list, name="people"),
    path("people/new", person_create, name="person-create"),
    path("people/<int:user_id>/action", person_action, name="person-action"),
]
