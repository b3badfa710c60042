"""Settings are read from the environment in a fresh interpreter each time, as a server start would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3P9-vQ2_xL7mN4rT8wZ1yB6cD0fG5hJ-aS2dF7gH9jK4lE3qW8e"


def _settings(env: dict, expr: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DJANGO_", "DATABASE_URL", "CELERY_"))}
    code = f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup(); from django.conf import settings; print({expr})"  # noqa: E501
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _settings({"VEIL_ENV": "production", "VEIL_DATA_DIR": str(tmp_path)}, "settings.SECRET_KEY")
    assert result.returncode != 0
    assert "VEIL_ENV=production needs a secret key: set DJANGO_SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_production_with_a_secret_key_starts_with_debug_off(tmp_path):
    result = _settings(
        {"VEIL_ENV": "production", "DJANGO_SECRET_KEY": STRONG_KEY, "VEIL_DATA_DIR": str(tmp_path)},
        "settings.DEBUG, settings.SESSION_COOKIE_SECURE, settings.ALLOWED_HOSTS, settings.SECURE_SSL_REDIRECT, "
        "settings.SECURE_HSTS_SECONDS",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True [] True 31536000"


def test_embedded_mode_keeps_everything_under_the_data_dir(tmp_path):
    result = _settings(
        {"VEIL_DATA_DIR": str(tmp_path)},
        "settings.DATABASES['default']['NAME'], settings.MEDIA_ROOT, settings.VEIL_EXPORT_DIR, "
        "settings.CELERY_BROKER_URL, settings.CELERY_BROKER_TRANSPORT_OPTIONS['data_folder_in'], settings.DEBUG",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        str(tmp_path / "veil.sqlite3"), str(tmp_path / "media"), str(tmp_path / "exports"),
        "filesystem://", str(tmp_path / "broker" / "queue"), "False",
    ]  # fmt: skip
    # The embedded mode made itself a secret key, private to its owner, and reuses it.
    key_file = tmp_path / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    again = _settings({"VEIL_DATA_DIR": str(tmp_path)}, "settings.SECRET_KEY")
    assert again.stdout.strip() == key_file.read_text().strip()


def test_reading_settings_writes_only_the_key_and_the_app_makes_its_folders(tmp_path):
    code = (
        "import os, pathlib; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
        "from django.conf import settings; settings.SECRET_KEY; root = pathlib.Path(os.environ['VEIL_DATA_DIR']); "
        "print(sorted(p.name for p in root.iterdir())); import django; django.setup(); "
        "print(sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_dir()))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DJANGO_", "DATABASE_URL", "CELERY_"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, "VEIL_DATA_DIR": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    read, started = result.stdout.splitlines()
    assert read == "['secret_key']"  # settings name folders; they make none
    assert started == str(["broker", "broker/control", "broker/processed", "broker/queue", "static", "tmp"])


def test_media_and_exports_can_live_apart_from_the_data_dir(tmp_path):
    result = _settings(
        {"VEIL_DATA_DIR": str(tmp_path / "data"), "VEIL_MEDIA_DIR": str(tmp_path / "big"),
         "VEIL_EXPORT_DIR": str(tmp_path / "out")},
        "settings.MEDIA_ROOT, settings.VEIL_EXPORT_DIR",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "big"), str(tmp_path / "out")]


def test_database_url_and_broker_url_switch_to_postgres_and_redis(tmp_path):
    result = _settings(
        {
            "VEIL_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://veil:pw@db.example:5432/veil",
            "CELERY_BROKER_URL": "redis://redis.example:6379/0",
        },
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['HOST'], settings.CELERY_BROKER_URL",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "db.example", "redis://redis.example:6379/0"]


def test_s3_settings_switch_media_to_private_object_storage(tmp_path):
    result = _settings(
        {"VEIL_DATA_DIR": str(tmp_path), "VEIL_S3_BUCKET": "veil-media"},
        "settings.STORAGES['default']['BACKEND'], settings.STORAGES['default']['OPTIONS']['default_acl']",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["storages.backends.s3.S3Storage", "private"]


def test_bad_values_are_named_in_the_error(tmp_path):
    result = _settings({"VEIL_DATA_DIR": str(tmp_path), "VEIL_LEASE_SECONDS": "ten"}, "settings.VEIL_LEASE_SECONDS")
    assert result.returncode != 0
    assert "VEIL_LEASE_SECONDS must be a whole number; got 'ten'" in result.stderr


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short-key-1234", "it is 14 characters long; at least 50 are needed"),
        ("x" * 50, "it has only 1 distinct characters"),
        ("django-insecure-" + "a1b2c3d4e5" * 4, "it is a well-known placeholder"),
    ],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key, reason):
    result = _settings({"VEIL_ENV": "production", "DJANGO_SECRET_KEY": key, "VEIL_DATA_DIR": str(tmp_path)}, "1")
    assert result.returncode != 0
    assert f"ImproperlyConfigured: DJANGO_SECRET_KEY is too weak for VEIL_ENV=production: {reason}." in result.stderr


def test_production_refuses_debug(tmp_path):
    env = {"VEIL_ENV": "production", "DJANGO_SECRET_KEY": STRONG_KEY, "VEIL_DATA_DIR": str(tmp_path), "VEIL_DEBUG": "1"}
    result = _settings(env, "settings.DEBUG")
    assert result.returncode != 0
    assert "VEIL_DEBUG is on with VEIL_ENV=production" in result.stderr
    # Embedded mode on one's own machine may still debug.
    assert _settings({"VEIL_DATA_DIR": str(tmp_path), "VEIL_DEBUG": "1"}, "settings.DEBUG").stdout.strip() == "True"


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VEIL_", "DJANGO_", "DATABASE_URL", "CELERY_"))}
    env = {
        **clean,
        "VEIL_ENV": "production",
        "DJANGO_SECRET_KEY": STRONG_KEY,
        "VEIL_DATA_DIR": str(tmp_path),
        "VEIL_ALLOWED_HOSTS": "veil.example.org",
        "VEIL_CSRF_TRUSTED_ORIGINS": "https://veil.example.org",
        "DATABASE_URL": "postgres://veil:pw@db.example:5432/veil",
        "CELERY_BROKER_URL": "redis://redis.example:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
