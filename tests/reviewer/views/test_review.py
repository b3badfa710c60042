"""The reviewer's pages: home with my batches, Start/Continue, the review page and who may see it."""

from __future__ import annotations

import json

import pytest

from reviewer.models import Assignment, Image, Lease
from reviewer.services.lease import lease_acquire
from tests.factories import (
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    ImageFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def make_batch(reviewer, n=3, **batch_kwargs):
    batch = BatchFactory(**batch_kwargs)
    images = []
    for i in range(n):
        image = ImageFactory(dataset=batch.dataset, status=Image.Status.DETECTED)
        BatchItemFactory(batch=batch, image=image, position=i)
        images.append(image)
    if reviewer is not None:
        AssignmentFactory(batch=batch, reviewer=reviewer)
    return batch, images


def initial_state(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="rv-initial" type="application/json">') + len(
        '<script id="rv-initial" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_home_lists_my_batches_with_progress_and_the_pool(reviewer_client, reviewer_user):
    _batch, images = make_batch(reviewer_user, n=4, name="street-photos")
    ReviewFactory(image=images[0], reviewer=reviewer_user)
    make_batch(UserFactory(), n=2, name="not-mine")
    make_batch(None, n=2, name="free-for-all", is_pool=True)
    response = reviewer_client.get("/review/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "street-photos" in html
    assert "1 / 4" in html
    assert 'aria-valuenow="25"' in html
    assert "Continue" in html
    assert "not-mine" not in html
    assert "free-for-all" in html
    assert "Take this batch" in html


def test_home_sends_admins_to_their_datasets_and_anonymous_to_login(client, admin_client):
    assert admin_client.get("/review/").url == "/datasets/"
    client.logout()
    assert client.get("/review/").url.startswith("/accounts/login/")


def test_start_opens_the_next_image_that_needs_me(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user)
    ReviewFactory(image=images[0], reviewer=reviewer_user)
    response = reviewer_client.get(f"/review/batches/{batch.pk}/start")
    assert response.url == f"/review/batches/{batch.pk}/images/{images[1].pk}"
    assert Lease.objects.get(image=images[1]).reviewer == reviewer_user


def test_start_when_others_covered_everything_goes_home_with_one_message(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user, n=2)
    Image.objects.filter(pk__in=[i.pk for i in images]).update(status=Image.Status.REVIEWED)
    response = reviewer_client.get(f"/review/batches/{batch.pk}/start", follow=True)
    assert response.redirect_chain[-1][0] == "/review/"
    html = response.content.decode()
    assert html.count('<li class="msg-info">') == 1
    assert "Nothing in this batch needs you: every image already has the reviews it needs" in html


def test_start_when_i_reviewed_all_that_needs_me_opens_my_first_answer(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user, n=3)
    Image.objects.filter(pk__in=[i.pk for i in images]).update(status=Image.Status.REVIEWED)
    ReviewFactory(image=images[1], reviewer=reviewer_user)
    response = reviewer_client.get(f"/review/batches/{batch.pk}/start", follow=True)
    assert response.redirect_chain[-1][0] == f"/review/batches/{batch.pk}/images/{images[1].pk}"
    assert "Nothing more in this batch needs you. You can still change your answers" in response.content.decode()


def test_home_of_a_second_reviewer_on_k_1_says_nothing_is_left_instead_of_continue(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user, n=20, name="late-comer")
    Image.objects.filter(pk__in=[i.pk for i in images]).update(status=Image.Status.REVIEWED)
    ReviewFactory(image=images[0], reviewer=reviewer_user)
    html = reviewer_client.get("/review/").content.decode()
    assert "1 / 20" in html
    assert "nothing left for you: the other 19 have their reviews" in html
    assert "Continue" not in html
    assert 'aria-valuenow="100"' in html
    assert f'<a class="button" href="/review/batches/{batch.pk}/start">Open</a>' in html


def test_review_page_carries_the_image_state_and_my_lease(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user)
    response = reviewer_client.get(f"/review/batches/{batch.pk}/images/{images[1].pk}")
    assert response.status_code == 200
    state = initial_state(response)
    assert (state["position"], state["total"]) == (2, 3)
    assert (state["prev_id"], state["next_id"]) == (images[0].pk, images[2].pk)
    assert state["lease"]["token"] == Lease.objects.get(image=images[1]).token
    assert state["lease_error"] is None
    html = response.content.decode()
    assert "2 / 3" in html
    assert "/static/veil/review/editor.js" in html
    # The page renews the lease at the interval the lease-length system check is held against.
    assert 'data-lease-renew-seconds="60"' in html


def test_review_page_of_an_image_someone_else_holds_is_read_only(reviewer_client, reviewer_user):
    batch, images = make_batch(reviewer_user)
    other = UserFactory()
    AssignmentFactory(batch=batch, reviewer=other)
    lease_acquire(reviewer=other, image=images[0])
    state = initial_state(reviewer_client.get(f"/review/batches/{batch.pk}/images/{images[0].pk}"))
    assert state["lease"] is None
    assert "Another reviewer is working on this image" in state["lease_error"]


def test_pages_are_404_outside_my_active_assignments(reviewer_client, reviewer_user):
    batch, images = make_batch(UserFactory())
    mine, _ = make_batch(reviewer_user)
    assert reviewer_client.get(f"/review/batches/{batch.pk}/images/{images[0].pk}").status_code == 404
    assert reviewer_client.get(f"/review/batches/{batch.pk}/start").status_code == 404
    assert reviewer_client.get(f"/review/batches/{mine.pk}/images/{images[0].pk}").status_code == 404
    Assignment.objects.filter(reviewer=reviewer_user).update(status=Assignment.Status.REVOKED)
    assert reviewer_client.get(f"/review/batches/{mine.pk}/start").status_code == 404


def test_taking_a_pool_batch_starts_it(reviewer_client, reviewer_user):
    pool, images = make_batch(None, n=2, is_pool=True)
    response = reviewer_client.post(f"/review/batches/{pool.pk}/take", follow=True)
    assert response.redirect_chain[-1][0] == f"/review/batches/{pool.pk}/images/{images[0].pk}"
    assert Assignment.objects.get(batch=pool).reviewer == reviewer_user
    private, _ = make_batch(None, n=1)
    assert reviewer_client.post(f"/review/batches/{private.pk}/take").status_code == 404
    assert reviewer_client.get(f"/review/batches/{pool.pk}/take").status_code == 405
