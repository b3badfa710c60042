"""docker-compose.yml describes production. No Docker engine runs here, but Debian's docker-compose validates it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("docker-compose") is None and not os.environ.get("CI"),
    reason="docker-compose is not installed (apt-get install docker-compose); .ci/run installs it",
)
def test_docker_compose_file_is_valid_and_runs_every_part_of_production():
    env = {**os.environ, "DJANGO_SECRET_KEY": "test-only", "POSTGRES_PASSWORD": "pw-test-only"}
    check = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    services = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "--services"], cwd=ROOT, env=env, capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    assert set(services) >= {"web", "worker", "beat", "redis", "postgres", "migrate"}
    rendered = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config"], cwd=ROOT, env=env, capture_output=True, text=True
    ).stdout
    assert "gunicorn" in rendered
    assert "config/gunicorn.py" in rendered  # the production settings, not a second set of flags
    assert "VEIL_ENV: production" in rendered
    # Secure unless the operator says otherwise: no cookie over plain HTTP, HTTPS enforced.
    assert "VEIL_SECURE_COOKIES: 'true'" in rendered or 'VEIL_SECURE_COOKIES: "true"' in rendered
    assert "VEIL_SSL_REDIRECT: 'true'" in rendered or 'VEIL_SSL_REDIRECT: "true"' in rendered
    assert "pw-test-only" in rendered
    assert ":veil@" not in rendered  # no built-in database password


def test_docker_compose_refuses_to_render_without_a_database_password():
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    env["DJANGO_SECRET_KEY"] = "test-only"
    check = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert check.returncode != 0
    assert "set POSTGRES_PASSWORD to a long random password" in check.stderr


def test_the_image_runs_as_a_user_without_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users
    assert users[-1] not in {"root", "0"}
    assert dockerfile.rindex("USER ") > dockerfile.rindex("RUN ")  # nothing runs as root after it


def test_docker_compose_refuses_to_render_without_a_secret_key():
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env["POSTGRES_PASSWORD"] = "pw-test-only"
    check = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode != 0
    assert "DJANGO_SECRET_KEY" in check.stderr
