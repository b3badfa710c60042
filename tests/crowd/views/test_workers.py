"""The crowd worker's pages: refused links answer with a page and the right status, a worker sees only their own
study, forms refuse hostile input with a sentence, and the completion code goes back to the platform."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crowd.models import CrowdWorker, Participation, QualificationAttempt
from crowd.services.onboarding import invite_accept, invite_token
from reviewer.models import User
from tests.crowd.clients import finish_one_image, join_url, joined_client
from tests.factories import FACE, InviteFactory, crowd_study

pytestmark = pytest.mark.django_db


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


# --- completion -----------------------------------------------------------------------------------------------


def test_an_mturk_worker_submits_the_code_back_to_mturk_from_the_frame(client):
    participation = finish_one_image(
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
    participation = finish_one_image(
        client, "workerId=A1B2C3&assignmentId=3XYZ&turkSubmitTo=https%3A%2F%2Fevil.example"
    )
    body = client.post(f"/crowd/studies/{participation.pk}/done", follow=True).content.decode()
    assert "evil.example" not in body
    assert "externalSubmit" not in body
    assert "Copy the code" in body


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
    participation = finish_one_image(client, "PROLIFIC_PID=p9")
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
