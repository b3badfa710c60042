"""The documentation site builds with `mkdocs build --strict` (a broken link, a missing screenshot or a page left
out of the navigation fails it), and the README's links lead to pages that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_docs_build_strict_with_every_page_and_the_api_schema(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "VEIL_DATA_DIR": str(tmp_path / "data"), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("guides/admin", "guides/reviewer", "guides/crowd", "safety-net", "lab/production", "lab/sizing",
                 "configuration", "api", "benchmarks", "development", "getting-started"):  # fmt: skip
        assert (site / page / "index.html").is_file(), page
    schema = (site / "api" / "openapi.yaml").read_text()
    assert schema.startswith("openapi: 3")
    assert "/api/v1/datasets/{id}/detection-runs/" in schema  # generated from the code, not a stale copy
    configuration = (site / "configuration" / "index.html").read_text()
    assert "VEIL_RECONCILE_AFTER_SECONDS" in configuration


def test_the_readme_opens_with_the_two_commands_and_its_links_lead_to_pages_that_exist():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```sh\n(.*?)```", readme, re.S).group(1)
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make run", "make test"]
    links = re.findall(r"\]\(((?:docs/)[^)#]+)", readme)
    assert links
    for link in links:
        assert (ROOT / link).is_file(), link
