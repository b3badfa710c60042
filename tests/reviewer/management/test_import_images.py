import pytest
from django.core.management import call_command

from reviewer.models import Dataset
from tests.archives import make_zip
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db


def test_import_images_lists_each_rejection_and_ends_with_a_summary_and_exit_1(tmp_path, capsys):
    archive = tmp_path / "in.zip"
    archive.write_bytes(make_zip({"a.jpg": jpeg_bytes(seed=1), "b.jpg": jpeg_bytes(seed=1), "x.jpg": b"text"}))
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_images", str(archive), "--dataset", "cli-set", "--no-progress")
    assert exit_info.value.code == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        "Created dataset 'cli-set'.",
        "rejected: x.jpg: not an image file (its content is not a known image format)",
        "1 imported, 1 duplicate, 1 rejected into dataset 'cli-set'.",
    ]
    assert Dataset.objects.get(name="cli-set").images.count() == 1


def test_import_images_exits_0_when_all_went_in(tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(jpeg_bytes(seed=2))
    call_command("import_images", str(tmp_path), "--dataset", "ok", "--no-progress")
    assert capsys.readouterr().out.strip().splitlines()[-1] == "1 imported, 0 duplicate, 0 rejected into dataset 'ok'."


def test_missing_path_is_an_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_images", str(tmp_path / "nope"), "--dataset", "x")


def test_create_reviewer_prints_a_password_once_and_refuses_duplicates(capsys):
    from django.core.management.base import CommandError

    from reviewer.models import User

    call_command("create_reviewer", "maria")
    out = capsys.readouterr().out
    assert "Created reviewer 'maria'." in out
    password = out.split("Password (shown once): ")[1].strip()
    assert User.objects.get(username="maria").check_password(password)
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_reviewer", "Maria")


def test_veil_setup_creates_one_admin_and_one_reviewer_only_once(capsys):
    from reviewer.models import User

    call_command("veil_setup")
    first = capsys.readouterr().out
    call_command("veil_setup")
    second = capsys.readouterr().out
    assert "Admin" in first
    assert "password:" in first
    assert "password:" not in second
    # A restart says how to get in without the passwords printed the first time (nothing is printed above now).
    assert "accounts exist already (admins: admin)" in second
    assert "python manage.py changepassword NAME" in second
    assert sorted(User.objects.values_list("role", flat=True)) == ["admin", "reviewer"]
