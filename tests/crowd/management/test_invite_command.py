"""`manage.py invite`: prints a working link, refuses bad numbers and unknown datasets."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crowd.models import Invite
from crowd.services.onboarding import invite_from_token
from tests.factories import AdminFactory, DatasetFactory

pytestmark = pytest.mark.django_db


def test_invite_prints_a_link_that_opens_the_invite(client):
    AdminFactory()
    dataset = DatasetFactory(name="faces-2026")
    out, err = StringIO(), StringIO()
    call_command(
        "invite", "--dataset", "faces-2026", "--uses", "30", "--expires", "7", "--base-url", "https://veil.example.org/",
        stdout=out, stderr=err,
    )  # fmt: skip
    url = out.getvalue().strip()
    assert url.startswith("https://veil.example.org/join/")
    token = url.removeprefix("https://veil.example.org/join/").rstrip("/")
    invite = invite_from_token(token)
    assert (invite.dataset, invite.max_uses, invite.images_per_worker) == (dataset, 30, None)
    assert "30 uses" in err.getvalue()
    assert client.get(f"/join/{token}/?PROLIFIC_PID=abc").status_code == 200


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dataset", "nope", "--uses", "3", "--expires", "1"], "no dataset called"),
        (["--dataset", "d", "--uses", "0", "--expires", "1"], "Maximum uses"),
        (["--dataset", "d", "--uses", "3", "--expires", "-2"], "expires after"),
        (["--dataset", "d", "--uses", "3", "--expires", "1", "--images", "0"], "Images per worker"),
    ],
)
def test_invite_refuses_bad_arguments(args, words):
    AdminFactory()
    DatasetFactory(name="d")
    with pytest.raises(CommandError, match=words):
        call_command("invite", *args, stdout=StringIO(), stderr=StringIO())
    assert not Invite.objects.exists()
