"""The admin's crowd page: links made and revoked, the setup form's refusals, qualification results on the
quality page, and the pay sheet; reviewers are refused all of it."""

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from crowd.models import Invite
from crowd.services.onboarding import invite_accept, invite_token
from tests.crowd.clients import joined_client
from tests.factories import FACE, InviteFactory, UserFactory, crowd_study, make_review

pytestmark = pytest.mark.django_db


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
