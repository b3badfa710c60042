"""The Django admin shows the crowd models read-only (crowd/admin.py)."""

import pytest
from django.test import Client

from tests.crowd.clients import finish_one_image
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db


def test_django_admin_lists_participations_with_their_codes_read_only():
    admin_client = Client()
    admin_client.force_login(AdminFactory(is_superuser=True))
    participation = finish_one_image(Client(), "PROLIFIC_PID=p7")
    worker = Client()
    worker.force_login(participation.reviewer)
    worker.post(f"/crowd/studies/{participation.pk}/done")
    participation.refresh_from_db()
    page = admin_client.get("/django-admin/crowd/participation/")
    assert page.status_code == 200
    assert participation.completion_code in page.content.decode()
    assert admin_client.get("/django-admin/crowd/crowdworker/").status_code == 200
    assert admin_client.get("/django-admin/crowd/invite/add/").status_code == 403
