"""Crowd pages: refused links answer with a page and the right status, roles are checked, only crowd pages can be
framed, and forms refuse hostile input with a sentence."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crowd.models import CrowdWorker, Invite, Participation, QualificationAttempt
from crowd.services.onboarding import invite_accept, invite_token
from reviewer.models import User
from tests.factories import FACE, AdminFactory, AssignmentFactory, InviteFactory, UserFactory, crowd_study, make_review

pytestmark = pytest.mark.django_db


def join_url(invite, query="PROLIFIC_PID=p1"):
    return f"/join/{invite_token(invite)}/?{query}"


def joined_client(client, dataset, pid="p1", **invite):
    invite = InviteFactory(dataset=dataset, **invite)
    response = client.post(join_url(invite, f"PROLIFIC_PID={pid}"))
    assert response.status_code == 302
    return Participation.objects.get(reviewer__crowd_worker__external_id=pid, invite=invite)


def test_opening_a_link_creates_nothing_until_start_is_pressed(client):
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    page = client.get(join_url(invite))
    assert page.status_code == 200
    assert "Review faces in photos" in page.content.decode()
    assert not CrowdWorker.objects.exists()
    response = client.post(join_url(invite))
    participation = Participation.objects.get()
    assert response["Location"] == f"/crowd/studies/{participation.pk}/instructions"
    assert client.get(response["Location"]).status_code == 302  # on to the dataset's instructions
    assert client.get(f"/crowd/datasets/{dataset.pk}/instructions").status_code == 200
    assert int(client.session["_auth_user_id"]) == participation.reviewer_id
    invite.refresh_from_db()
    assert invite.uses == 1


def test_mturk_preview_shows_the_task_without_an_account(client):
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    url = join_url(invite, "assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=h1")
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 200
        assert "Accept the task on Mechanical Turk" in response.content.decode()
    assert not User.objects.filter(role="reviewer").exists()


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda: InviteFactory(expires_at=timezone.now() - timedelta(minutes=1)), 410, "expired on"),
        (lambda: InviteFactory(revoked_at=timezone.now()), 410, "withdrawn"),
        (lambda: InviteFactory(max_uses=1, uses=1), 410, "its limit"),
    ],
)
def test_refused_links_get_a_clear_page(client, make, status, words):
    invite = make()
    response = client.post(join_url(invite))
    assert response.status_code == status
    assert words in response.content.decode()
    assert not CrowdWorker.objects.exists()


def test_a_tampered_link_or_bad_worker_id_is_refused(client):
    invite = InviteFactory()
    key, signature = invite_token(invite).split(":")
    response = client.post(f"/join/{key}:{signature[::-1]}/?PROLIFIC_PID=p1")
    assert response.status_code == 404
    assert "not a valid Veil invite" in response.content.decode()
    response = client.get(join_url(invite, "PROLIFIC_PID=%3Cscript%3Ealert(1)%3C/script%3E"))
    assert response.status_code == 400
    assert "<script>" not in response.content.decode()
    assert "not a worker id Veil can read" in response.content.decode()


def test_a_signed_in_admin_is_not_replaced_by_a_crowd_account(admin_client):
    response = admin_client.post(join_url(InviteFactory()))
    assert response.status_code == 409
    assert "log out first" in response.content.decode()


def test_a_worker_sees_only_their_own_study(client):
    dataset, _, _ = crowd_study()
    mine = joined_client(client, dataset, "p1")
    theirs = invite_accept(token=invite_token(InviteFactory(dataset=dataset)), params={"PROLIFIC_PID": "p2"})
    assert client.get(f"/crowd/studies/{mine.pk}/").status_code == 200
    for url in ("/", "/qualify", "/done"):
        assert client.get(f"/crowd/studies/{theirs.participation.pk}{url}").status_code == 404
    other, _, _ = crowd_study()
    assert client.get(f"/crowd/datasets/{other.pk}/instructions").status_code == 404
    assert client.get("/review/").url == "/crowd/"


def test_a_reviewer_cannot_open_the_admin_crowd_page_or_the_pay_sheet(reviewer_client):
    dataset, _, _ = crowd_study()
    assert reviewer_client.get(f"/datasets/{dataset.pk}/crowd/").status_code == 403
    assert (
        reviewer_client.get(f"/datasets/{dataset.pk}/crowd/paysheet.csv?start=2020-01-01&end=2030-01-01").status_code
        == 403
    )
    assert (
        reviewer_client.post(f"/datasets/{dataset.pk}/crowd/invites", {"max_uses": 5, "expires_in_days": 1}).status_code
        == 403
    )
    assert not Invite.objects.exists()


def test_qualification_answers_refuse_unreadable_boxes_and_a_resubmitted_form(client):
    dataset, _, _ = crowd_study(gold=2, qualification_size=2, max_mistakes=1)
    participation = joined_client(client, dataset)
    url = f"/crowd/studies/{participation.pk}/qualify"
    assert client.get(url).status_code == 200
    attempt = QualificationAttempt.objects.get()
    first = attempt.image_ids[0]
    for boxes, words in (
        ("{not json", "could not be read"),
        ("[[1, 2, 3]]", "four numbers"),
        ('[["a",1,2,3]]', "four numbers"),
    ):
        response = client.post(url, {"image": first, "boxes": boxes})
        assert response.status_code == 400
        assert words in response.content.decode()
    response = client.post(url, {"image": first, "boxes": "[[400, 300, 500, 400]]"})  # outside the image
    assert response.status_code == 400
    assert "Box refused" in response.content.decode()
    good = f"[[{FACE[0]}, {FACE[1]}, {FACE[2]}, {FACE[3]}]]"
    response = client.post(url, {"image": first, "boxes": good})
    assert response.status_code == 200
    assert "Correct" in response.content.decode()
    response = client.post(url, {"image": first, "boxes": good})  # the same form again
    assert response.status_code == 409
    assert attempt.answers.count() == 1


def test_work_before_qualifying_goes_back_to_the_round(client):
    dataset, _, _ = crowd_study(qualification_size=2)
    participation = joined_client(client, dataset)
    response = client.post(f"/crowd/studies/{participation.pk}/work")
    assert response["Location"] == f"/crowd/studies/{participation.pk}/qualify"


def test_sign_in_link_signs_in_once_on_another_device(client):
    dataset, _, _ = crowd_study()
    participation = joined_client(client, dataset)
    page = client.post("/crowd/sign-in-link")
    assert page.status_code == 200
    link = page.context["link"]
    path = link.split("testserver", 1)[1]
    other = Client()
    assert other.get(path).status_code == 200  # a mail scanner's GET spends nothing
    response = other.post(path)
    assert response.status_code == 302
    assert int(other.session["_auth_user_id"]) == participation.reviewer_id
    again = Client().post(path)
    assert again.status_code == 410
    assert "used already" in again.content.decode()


def test_a_password_reviewer_gets_no_sign_in_link(reviewer_client):
    response = reviewer_client.post("/crowd/sign-in-link")
    assert response.status_code == 403


# --- framing ------------------------------------------------------------------------------------------------


def test_crowd_pages_can_be_framed_by_the_configured_origins_and_nothing_else(client, settings, admin_client):
    settings.VEIL_CROWD_FRAME_ANCESTORS = ["https://workersandbox.mturk.com"]
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    page = client.get(join_url(invite))
    policy = page["Content-Security-Policy"]
    assert policy.endswith("; frame-ancestors 'self' https://workersandbox.mturk.com")
    assert "script-src 'self'" in policy  # the rest of the policy still holds
    assert "form-action 'self' https://workersandbox.mturk.com" in policy  # MTurk's externalSubmit
    assert not page.has_header("X-Frame-Options")
    admin_page = admin_client.get(f"/datasets/{dataset.pk}/crowd/")
    assert admin_page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in admin_page["Content-Security-Policy"]
    assert admin_client.get("/datasets/")["X-Frame-Options"] == "DENY"


def test_the_review_page_is_framable_for_crowd_workers_only(client):
    dataset, batch, _ = crowd_study(qualification_size=0)
    participation = joined_client(client, dataset)
    assert client.post(f"/crowd/studies/{participation.pk}/work").status_code == 302
    image = batch.items.first().image
    page = client.get(f"/review/batches/{batch.pk}/images/{image.pk}")
    assert page.status_code == 200
    assert not page.has_header("X-Frame-Options")
    assert 'id="rv-finish"' in page.content.decode()
    assert 'id="rv-instructions"' in page.content.decode()
    plain = UserFactory()
    AssignmentFactory(batch=batch, reviewer=plain)
    other = Client()
    other.force_login(plain)
    page = other.get(f"/review/batches/{batch.pk}/images/{image.pk}")
    assert page["X-Frame-Options"] == "DENY"
    assert 'id="rv-finish"' not in page.content.decode()


def test_over_https_a_crowd_login_sets_cookies_a_third_party_frame_may_send(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    response = client.post(join_url(invite), HTTP_X_FORWARDED_PROTO="https")
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["samesite"] == "None"
    assert session["secure"] is True
    plain = client.post(join_url(InviteFactory(dataset=dataset), "PROLIFIC_PID=p2"))  # plain http: left alone
    assert plain.cookies[settings.SESSION_COOKIE_NAME]["samesite"] == "Lax"


# --- admin page ---------------------------------------------------------------------------------------------


def test_admin_makes_and_revokes_a_link_from_the_page(admin_client):
    dataset, _, _ = crowd_study()
    response = admin_client.post(
        f"/datasets/{dataset.pk}/crowd/invites", {"max_uses": 3, "expires_in_days": 2, "label": "pilot"}
    )
    assert response.status_code == 302
    invite = Invite.objects.get()
    page = admin_client.get(f"/datasets/{dataset.pk}/crowd/").content.decode()
    assert f"http://testserver/join/{invite_token(invite)}/" in page
    assert "0 / 3" in page
    bad = admin_client.post(f"/datasets/{dataset.pk}/crowd/invites", {"max_uses": 0, "expires_in_days": 2})
    assert bad.status_code == 400
    assert Invite.objects.count() == 1
    admin_client.post(f"/crowd/invites/{invite.pk}/revoke")
    invite.refresh_from_db()
    assert invite.revoked_at is not None
    assert "revoked" in admin_client.get(f"/datasets/{dataset.pk}/crowd/").content.decode()


def test_admin_setup_form_refuses_a_round_without_enough_gold(admin_client):
    dataset, _, _ = crowd_study(gold=2, qualification_size=0)
    form = {
        "instructions": "Box faces",
        "qualification_size": 5,
        "max_mistakes": 2,
        "max_tries": 3,
        "miss_rate_limit": 0.2,
    }
    response = admin_client.post(f"/datasets/{dataset.pk}/crowd/setup", form)
    assert response.status_code == 400
    assert "has 2" in response.content.decode()
    response = admin_client.post(f"/datasets/{dataset.pk}/crowd/setup", {**form, "qualification_size": 2})
    assert response.status_code == 302
    dataset.crowd_setup.refresh_from_db()
    assert dataset.crowd_setup.qualification_size == 2


def test_the_quality_page_lists_qualification_results(admin_client):
    dataset, _, _ = crowd_study(gold=2, qualification_size=2)
    worker = Client()
    participation = joined_client(worker, dataset)
    worker.get(f"/crowd/studies/{participation.pk}/qualify")
    page = admin_client.get(f"/datasets/{dataset.pk}/quality/").content.decode()
    assert page.count('id="qualification-results"') == 1  # once, after the reviewer and batch tables
    assert f"<title>Quality · {dataset.name} · Veil</title>" in page
    assert page.index('id="qualification-results"') > page.index('id="quality-batch-table"')
    assert f'data-reviewer="{participation.reviewer.username}"' in page
    assert "in progress" in page


def test_the_pay_sheet_holds_back_work_above_the_miss_rate_and_escapes_formulas(admin_client):
    dataset, _, golds = crowd_study(gold=2, qualification_size=0, miss_rate_limit=0.4)
    worker = invite_accept(token=invite_token(InviteFactory(dataset=dataset)), params={"PROLIFIC_PID": "w1"}).user
    careless = UserFactory(username="=cmd|' /C calc'!A0")
    for user, kept in ((worker, [FACE]), (careless, [])):
        for gold in golds:
            review = make_review(gold, user, *kept, seconds_spent=5.0)
            review.gold_misses = 0 if kept else 1
            review.gold_extras = 0
            review.save()
    today = timezone.now().date()
    response = admin_client.get(f"/datasets/{dataset.pk}/crowd/paysheet.csv", {"start": str(today), "end": str(today)})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = {r["reviewer"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows[worker.username]["gold_miss_rate"] == "0.0"
    assert rows[worker.username]["held_back"] == "no"
    assert rows[worker.username]["active_seconds"] == "10.0"
    assert rows["'=cmd|' /C calc'!A0"]["gold_miss_rate"] == "1.0"
    assert rows["'=cmd|' /C calc'!A0"]["held_back"] == "yes"
    bad = admin_client.get(f"/datasets/{dataset.pk}/crowd/paysheet.csv", {"start": "2026-02-01", "end": "2026-01-01"})
    assert bad.status_code == 400
    assert "ends before it starts" in bad.content.decode()


def _finish_one_image(client, query):
    dataset, batch, _ = crowd_study(qualification_size=0, pool_images=1)
    invite = InviteFactory(dataset=dataset)
    client.post(f"/join/{invite_token(invite)}/?{query}")
    participation = Participation.objects.get()
    client.post(f"/crowd/studies/{participation.pk}/work")
    image = batch.items.get().image
    make_review(image, participation.reviewer, assignment=participation.reviewer.assignments.get())
    return participation


def test_an_mturk_worker_submits_the_code_back_to_mturk_from_the_frame(client):
    participation = _finish_one_image(
        client, "workerId=A1B2C3&assignmentId=3XYZ&hitId=H1&turkSubmitTo=https%3A%2F%2Fworkersandbox.mturk.com"
    )
    page = client.post(f"/crowd/studies/{participation.pk}/done", follow=True)
    body = page.content.decode()
    participation.refresh_from_db()
    assert participation.completion_code in body
    assert 'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in body
    assert 'name="assignmentId" value="3XYZ"' in body
    assert "frame-ancestors 'self'" in page["Content-Security-Policy"]


def test_a_forged_turk_submit_address_gets_no_form(client):
    participation = _finish_one_image(
        client, "workerId=A1B2C3&assignmentId=3XYZ&turkSubmitTo=https%3A%2F%2Fevil.example"
    )
    body = client.post(f"/crowd/studies/{participation.pk}/done", follow=True).content.decode()
    assert "evil.example" not in body
    assert "externalSubmit" not in body
    assert "Copy the code" in body


def test_django_admin_lists_participations_with_their_codes_read_only():
    admin_client = Client()
    admin_client.force_login(AdminFactory(is_superuser=True))
    participation = _finish_one_image(Client(), "PROLIFIC_PID=p7")
    worker = Client()
    worker.force_login(participation.reviewer)
    worker.post(f"/crowd/studies/{participation.pk}/done")
    participation.refresh_from_db()
    page = admin_client.get("/django-admin/crowd/participation/")
    assert page.status_code == 200
    assert participation.completion_code in page.content.decode()
    assert admin_client.get("/django-admin/crowd/crowdworker/").status_code == 200
    assert admin_client.get("/django-admin/crowd/invite/add/").status_code == 403


# --- leaving and coming back ---------------------------------------------------------------------------------


def test_a_crowd_worker_who_logs_out_is_told_how_to_come_back_not_shown_a_password_form(client):
    dataset, _, _ = crowd_study()
    joined_client(client, dataset)

    response = client.post("/accounts/logout/", follow=True)

    assert response.redirect_chain == [("/crowd/signed-out", 302)]
    text = response.content.decode()
    assert "You are signed out" in text
    assert "open the study's link again from your platform" in text
    assert 'name="password"' not in text
    assert "_auth_user_id" not in client.session


def test_a_password_user_who_logs_out_gets_the_login_form(reviewer_client):
    response = reviewer_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_rejoining_by_the_platform_link_lands_on_the_study_page_not_the_instructions(client):
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    first = client.post(join_url(invite, "PROLIFIC_PID=p7"))
    participation = Participation.objects.get(reviewer__crowd_worker__external_id="p7")
    assert first["Location"] == f"/crowd/studies/{participation.pk}/instructions"

    client.post("/accounts/logout/")
    again = client.post(join_url(invite, "PROLIFIC_PID=p7"))

    assert again["Location"] == f"/crowd/studies/{participation.pk}/"
    assert Participation.objects.filter(reviewer__crowd_worker__external_id="p7").count() == 1


def test_the_menu_offers_api_tokens_to_reviewers_and_admins_but_not_to_crowd_workers(reviewer_client):
    dataset, _, _ = crowd_study()
    crowd = Client()
    participation = joined_client(crowd, dataset)

    crowd_page = crowd.get(f"/crowd/studies/{participation.pk}/").content.decode()
    reviewer_page = reviewer_client.get("/review/").content.decode()

    assert "API tokens" not in crowd_page
    assert 'href="/account/tokens/"' in reviewer_page


def test_opening_the_done_page_finishes_nothing_the_button_does(client):
    """GET /done used to issue the code: a prefetch or a reload finished the study for the worker."""
    participation = _finish_one_image(client, "PROLIFIC_PID=p9")
    page = client.get(f"/crowd/studies/{participation.pk}/done")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="finish"' in body
    assert "You have reviewed 1 image." in body
    participation.refresh_from_db()
    assert (participation.completed_at, participation.completion_code) == (None, "")
    assert participation.reviewer.assignments.get().status == "active"

    finished = client.post(f"/crowd/studies/{participation.pk}/done")
    assert finished.status_code == 302
    participation.refresh_from_db()
    assert participation.completion_code.startswith(f"V{participation.pk}-")
    assert participation.completion_code in client.get(finished.url).content.decode()
    assert client.post(f"/crowd/studies/{participation.pk}/done").status_code == 302  # again: the same code
    participation.refresh_from_db()
    assert participation.completion_code in client.get(finished.url).content.decode()


def test_finishing_with_images_left_is_refused_with_what_is_left(client):
    dataset, _, _ = crowd_study(qualification_size=0, pool_images=2)
    participation = joined_client(client, dataset, "p3")
    client.post(f"/crowd/studies/{participation.pk}/work")
    response = client.post(f"/crowd/studies/{participation.pk}/done")
    assert response.status_code == 409
    assert "Some images still need you" in response.content.decode()
    participation.refresh_from_db()
    assert participation.completed_at is None


def test_a_worker_id_alone_does_not_reach_someone_elses_account(client):
    """/join/<token>/?external_id=victim from a fresh browser used to land in the victim's study."""
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    victim = joined_client(client, dataset, "victim")
    client.post(reverse("logout"))  # the victim's session ends; their browser keeps its key
    attacker = Client()
    response = attacker.post(join_url(invite, "PROLIFIC_PID=victim"))
    assert response.status_code == 403
    assert "already has a Veil account, started in another browser" in response.content.decode()
    assert "_auth_user_id" not in attacker.session
    assert attacker.get(f"/crowd/studies/{victim.pk}/done").status_code == 302  # to the login page
    assert Participation.objects.filter(reviewer=victim.reviewer).count() == 1
    # The victim's own browser comes back by the platform's link, signed out or not.
    again = client.post(join_url(invite, "PROLIFIC_PID=victim"))
    assert again.status_code == 302
    assert int(client.session["_auth_user_id"]) == victim.reviewer.pk


def test_the_platforms_session_id_of_that_participation_lets_another_device_in(client):
    dataset, _, _ = crowd_study()
    invite = InviteFactory(dataset=dataset)
    client.post(join_url(invite, "PROLIFIC_PID=p5&SESSION_ID=sess-1"))
    mine = Participation.objects.get()
    phone = Client()
    assert phone.post(join_url(invite, "PROLIFIC_PID=p5&SESSION_ID=sess-1")).status_code == 302
    assert int(phone.session["_auth_user_id"]) == mine.reviewer_id
    guesser = Client()
    assert guesser.post(join_url(invite, "PROLIFIC_PID=p5&SESSION_ID=sess-2")).status_code == 403
    # A one-time sign-in link made on the first device is the way in for any other.
    link = client.post("/crowd/sign-in-link").content.decode()
    token = re.search(r"/crowd/sign-in/([A-Za-z0-9_-]+)", link).group(1)
    assert guesser.post(f"/crowd/sign-in/{token}").status_code == 302
    assert guesser.post(join_url(invite, "PROLIFIC_PID=p5")).status_code == 302
    assert int(guesser.session["_auth_user_id"]) == mine.reviewer_id
