"""requirements.txt is the production install (the Dockerfile ships it alone): every package it needs is pinned
there, including what the extras Veil relies on bring in, so nothing works only because requirements-dev.txt
happened to install it. (`.ci/smoke-runtime` proves the same end to end, in a venv of requirements.txt only.)"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[(?P<extras>[^\]]+)\])?==(?P<version>\S+)$")


def _pins(path: Path) -> dict[str, tuple[str, set[str]]]:
    """{canonical name: (version, extras)} of the `name[extras]==version` lines of one requirements file."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {raw!r} is not pinned as name==version"
        extras = {e.strip() for e in (match["extras"] or "").split(",") if e.strip()}
        pins[canonicalize_name(match["name"])] = (match["version"], extras)
    return pins


RUNTIME = _pins(ROOT / "requirements.txt")


def _needs(name: str, extras: set[str]) -> list[Requirement]:
    """What the installed distribution `name` declares it needs, with `extras`, on this platform."""
    needed = []
    for spec in metadata.requires(name) or []:
        req = Requirement(spec)
        environments = [{**default_environment(), "extra": extra} for extra in extras or {""}]
        if req.marker is None or any(req.marker.evaluate(env) for env in environments):
            needed.append(req)
    return needed


def test_the_redis_broker_is_part_of_the_runtime_install():
    """Production's broker is Redis: kombu's redis extra (redis-py and `packaging`, which its transport imports)
    must come with requirements.txt, not with the test tools."""
    assert "redis" in RUNTIME["kombu"][1]
    assert {"redis", "packaging"} <= RUNTIME.keys()


@pytest.mark.parametrize("name", sorted(RUNTIME))
def test_every_runtime_requirement_is_pinned_in_requirements_txt(name):
    version, extras = RUNTIME[name]
    assert metadata.version(name) == version, f"{name} installed at {metadata.version(name)}, pinned at {version}"
    for req in _needs(name, extras):
        dependency = canonicalize_name(req.name)
        assert dependency in RUNTIME, f"{name} needs {req}, which requirements.txt does not pin"
        pinned = RUNTIME[dependency][0]
        assert req.specifier.contains(pinned, prereleases=True), f"{name} needs {req}; requirements.txt pins {pinned}"


def test_the_dev_tools_pin_nothing_the_runtime_pins():
    """A package pinned in both files would let the dev install mask a runtime pin."""
    dev = _pins(ROOT / "requirements-dev.txt")
    assert not dev.keys() & RUNTIME.keys()
