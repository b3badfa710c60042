import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviewer.models import AuditEvent
from reviewer.services.audit import audit_record
from tests.factories import AdminFactory, BatchFactory, DatasetFactory, ImageFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(admin_user):
    ds1, ds2 = DatasetFactory(name="one"), DatasetFactory(name="two")
    rita = UserFactory(username="rita")
    image = ImageFactory(dataset=ds1)
    audit_record(actor=admin_user, verb="dataset.created", obj=ds1)
    audit_record(actor=rita, verb="review.submitted", obj=image, boxes=2)
    audit_record(actor=admin_user, verb="batches.created", obj=ds2)
    old = audit_record(actor=admin_user, verb="user.created", obj=rita)
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=10))
    return {"ds1": ds1, "ds2": ds2, "rita": rita, "image": image}


def verbs(response):
    return re.findall(r'<tr data-verb="([^"]+)"', response.content.decode())


def test_audit_log_is_for_admins(client, reviewer_user):
    assert client.get(reverse("audit-log"))["Location"].startswith(reverse("login"))
    client.force_login(reviewer_user)
    assert client.get(reverse("audit-log")).status_code == 403
    assert client.get(reverse("audit-csv")).status_code == 403


def test_events_know_their_dataset(events):
    assert AuditEvent.objects.get(verb="review.submitted").dataset_id == events["ds1"].pk
    assert AuditEvent.objects.get(verb="batches.created").dataset_id == events["ds2"].pk
    assert AuditEvent.objects.get(verb="user.created").dataset_id is None
    assignment_event = audit_record(actor=None, verb="x", obj=BatchFactory(dataset=events["ds2"]))
    assert assignment_event.dataset_id == events["ds2"].pk


def test_newest_first_and_each_filter(admin_client, events, django_assert_max_num_queries):
    url = reverse("audit-log")
    with django_assert_max_num_queries(5):
        response = admin_client.get(url)
    assert verbs(response) == ["batches.created", "review.submitted", "dataset.created", "user.created"]
    assert verbs(admin_client.get(url, {"who": "rita"})) == ["review.submitted"]
    assert verbs(admin_client.get(url, {"what": "batches.created"})) == ["batches.created"]
    assert verbs(admin_client.get(url, {"what": "user."})) == ["user.created"]
    assert verbs(admin_client.get(url, {"dataset": events["ds1"].pk})) == ["review.submitted", "dataset.created"]
    assert verbs(admin_client.get(url, {"image": events["image"].pk})) == ["review.submitted"]
    today = timezone.localdate()
    assert "user.created" not in verbs(admin_client.get(url, {"since": (today - timedelta(days=1)).isoformat()}))
    assert verbs(admin_client.get(url, {"until": (today - timedelta(days=5)).isoformat()})) == ["user.created"]


def test_bad_filters_are_refused_with_their_words(admin_client, events):
    url = reverse("audit-log")
    response = admin_client.get(url, {"who": "nobody"})
    assert response.status_code == 400
    assert 'data-field="who">Nobody is called “nobody”.</span>' in response.content.decode()
    response = admin_client.get(url, {"since": "2026-02-10", "until": "2026-02-01"})
    assert "The first day comes after the last one." in response.content.decode()
    response = admin_client.get(url, {"image": "abc"})
    assert 'data-field="image">Enter a whole number.</span>' in response.content.decode()


def test_keyset_pages_walk_every_event_once(admin_client, admin_user, django_assert_max_num_queries):
    dataset = DatasetFactory()
    for n in range(120):
        audit_record(actor=admin_user, verb="image.approved", obj=dataset, n=n)
    seen, url = [], reverse("audit-log") + f"?dataset={dataset.pk}"
    for _ in range(5):
        with django_assert_max_num_queries(6):
            response = admin_client.get(url)
        html = response.content.decode()
        seen += [int(n) for n in re.findall(r"n: (\d+)</td>", html)]
        more = re.search(r'<a href="([^"]+)" id="audit-older">', html)
        if not more:
            break
        url = reverse("audit-log") + more.group(1).replace("&amp;", "&")
    assert seen == list(range(119, -1, -1))


def test_csv_holds_the_filtered_rows(admin_client, events):
    response = admin_client.get(reverse("audit-csv"), {"dataset": events["ds1"].pk})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["at", "who", "what", "object_type", "object_id", "dataset", "data"]
    assert [r[1:6] for r in rows[1:]] == [
        ["rita", "review.submitted", "reviewer.image", str(events["image"].pk), "one"],
        [AdminFactory._meta.model.objects.get(username="alice-admin").username, "dataset.created", "reviewer.dataset",
         str(events["ds1"].pk), "one"],
    ]  # fmt: skip
    assert rows[1][6] == '{"boxes": 2}'


def test_image_events_open_the_image_in_the_viewer(admin_client, events):
    image = events["image"]
    page = admin_client.get(reverse("audit-log")).content.decode()
    assert f'href="{reverse("image-viewer", args=[image.dataset_id, image.pk])}"' in page
