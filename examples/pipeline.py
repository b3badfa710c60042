"""The whole Veil flow from a script, written only from the API's OpenAPI schema (/api/v1/schema/).

    python examples/pipeline.py --url http://127.0.0.1:8000 --admin-token veil_... --reviewer-token veil_... \
        --images photos/ --out blurred.zip

Tokens come from /account/tokens/ (one for an admin, one for a reviewer). The script creates a dataset, uploads
the images, runs detection, cuts one batch, assigns it to the reviewer, reviews every image as that reviewer
(accepts each proposal; on an image without one it boxes `--fallback-box`, as a person would box a missed face),
approves everything as the admin, exports, downloads the archive and checks what is inside. Needs only
`requests`. Exits non-zero with a sentence when a step fails.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import requests

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif"}


class Failed(Exception):
    """A step did not do what the schema promises."""


class Api:
    """A token-authenticated session on /api/v1/ that checks each path against the live schema first."""

    def __init__(self, base: str, token: str, schema: dict | None = None):
        self.base = base.rstrip("/")
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.schema = schema

    def _check(self, method: str, template: str) -> None:
        if self.schema is not None and method not in self.schema["paths"].get(template, {}):
            raise Failed(f"the schema has no {method.upper()} {template}")

    def call(self, method: str, template: str, *, expect: int = 200, params=None, json_body=None, files=None, **path):
        self._check(method, template)
        url = self.base + template.format(**path)
        response = self.http.request(method, url, params=params, json=json_body, files=files, timeout=120)
        if response.status_code != expect:
            try:
                detail = response.json()
            except ValueError:
                detail = response.text[:300]
            raise Failed(f"{method.upper()} {url} answered {response.status_code}, not {expect}: {detail}")
        return response

    def json(self, method: str, template: str, **kwargs):
        return self.call(method, template, **kwargs).json()

    def pages(self, template: str, **path):
        """Every item of a keyset-paginated list, following `next`."""
        body = self.json("get", template, **path)
        yield from body["results"]
        while body["next"]:
            response = self.http.get(body["next"], timeout=120)
            if response.status_code != 200:
                raise Failed(f"GET {body['next']} answered {response.status_code}")
            body = response.json()
            yield from body["results"]


def wait(what: str, poll, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = poll()
        if result is not None:
            return result
        time.sleep(interval)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what}")


def run(
    base: str,
    admin_token: str,
    reviewer_token: str,
    images: list[Path],
    fallback_box,
    timeout: float,
    log=print,
    override_gate: str | None = None,
):
    schema = requests.get(base.rstrip("/") + "/api/v1/schema/", params={"format": "json"}, timeout=60).json()
    admin, reviewer = Api(base, admin_token, schema), Api(base, reviewer_token, schema)
    reviewer_name = reviewer.json("get", "/api/v1/me/")["username"]

    dataset = admin.json("post", "/api/v1/datasets/", expect=201, json_body={"name": f"pipeline-{time.time_ns()}"})
    log(f"dataset {dataset['id']} {dataset['name']}")
    files = [("files", (p.name, p.read_bytes())) for p in images]
    job = admin.json("post", "/api/v1/datasets/{id}/imports/", expect=202, files=files, id=dataset["id"])

    def imported():
        state = admin.json("get", "/api/v1/imports/{id}/", id=job["id"])
        return state if state["status"] not in ("queued", "running") else None

    job = wait("the import", imported, timeout)
    if job["status"] != "done" or job["imported_count"] != len(images):
        raise Failed(f"import {job['id']}: {job['imported_count']} of {len(images)} imported; {job['rejections']}")
    log(f"imported {job['imported_count']} images")

    run_ = admin.json("post", "/api/v1/datasets/{id}/detection-runs/", expect=201, json_body={}, id=dataset["id"])

    def detected():
        state = admin.json("get", "/api/v1/detection-runs/{id}/", id=run_["id"])
        return state if state["progress"]["is_finished"] else None

    run_ = wait("detection", detected, timeout)
    if run_["status"] != "done":
        raise Failed(f"detection run {run_['id']} ended {run_['status']}: {run_['failures']}")
    log(f"detection: {run_['progress']['faces']} proposals on {run_['progress']['done']} images")

    batches = admin.json(
        "post", "/api/v1/datasets/{id}/batches/", expect=201, json_body={"size": len(images)}, id=dataset["id"]
    )
    admin.call(
        "post", "/api/v1/datasets/{id}/assignments/", expect=201, json_body={"reviewers": [reviewer_name]},
        id=dataset["id"],
    )  # fmt: skip
    mine = [b for b in reviewer.json("get", "/api/v1/review/batches/") if b["id"] == batches[0]["id"]]
    if not mine:
        raise Failed(f"batch {batches[0]['id']} is not among {reviewer_name}'s batches")

    expected_boxes: dict[str, list[list[float]]] = {}
    after = None
    while True:
        body = reviewer.json(
            "post", "/api/v1/review/batches/{batch_id}/next", json_body={"after": after}, batch_id=mine[0]["id"]
        )
        image = body["image"]
        if image is None:
            break
        fates = [{"proposal": p["id"], "fate": "accepted"} for p in image["proposals"]]
        boxes = [p["box"] for p in image["proposals"]]
        if not fates:
            box = [min(v, limit) for v, limit in zip(fallback_box, [image["width"], image["height"]] * 2, strict=True)]
            fates, boxes = [{"fate": "added", "box": box}], [box]
        # The regions the detector was unsure of (candidates) were looked at too: here judged "not a face". A real
        # reviewer boxes the ones that are faces; left unjudged, they hold the release gate.
        judged = [{"id": c["id"], "fate": "dismissed"} for c in image.get("candidates", [])]
        review = {"lease_token": image["lease"]["token"], "revision": image["revision"], "boxes": fates,
                  "candidates": judged, "seconds_spent": 1.5}  # fmt: skip
        reviewer.call(
            "post", "/api/v1/review/batches/{batch_id}/images/{image_id}/review", expect=201, json_body=review,
            batch_id=mine[0]["id"], image_id=image["id"],
        )  # fmt: skip
        expected_boxes[image["name"]] = boxes
        after = image["id"]
    if len(expected_boxes) != len(images):
        raise Failed(f"reviewed {len(expected_boxes)} of {len(images)} images")
    log(f"{reviewer_name} reviewed {len(expected_boxes)} images")

    queue = list(admin.pages("/api/v1/datasets/{id}/approval-queue/", id=dataset["id"]))
    approved = admin.json("post", "/api/v1/datasets/{id}/approve/", json_body={"all": True}, id=dataset["id"])
    if len(approved["approved"]) != len(images) or len(queue) != len(images):
        raise Failed(f"approved {len(approved['approved'])} of {len(images)} (queue had {len(queue)})")

    # The release gate: the share of faces the export may leave unblurred, from gold images, the blind audit and
    # the finds nobody resolved. Without gold or an audit nothing bounds it, so the gate refuses; a lab then adds
    # evidence, or overrides with a reason that goes into the manifest and the audit log.
    gate = admin.json("get", "/api/v1/datasets/{id}/release-gate/", id=dataset["id"])
    log(gate["reason"])
    body = {"archive": "zip"}
    if not gate["passes"]:
        if not override_gate:
            raise Failed(f"the release gate refuses the export (pass --override-gate REASON to export anyway): "
                         f"{gate['reason']}")  # fmt: skip
        body["override_gate"] = override_gate
    export = admin.json("post", "/api/v1/datasets/{id}/exports/", expect=201, json_body=body, id=dataset["id"])

    def exported():
        state = admin.json("get", "/api/v1/exports/{id}/", id=export["id"])
        return state if state["status"] in ("done", "failed") else None

    export = wait("the export", exported, timeout)
    if export["status"] != "done":
        raise Failed(f"export {export['id']} failed: {export['error']}")
    archive = admin.call("get", "/api/v1/exports/{id}/download/", id=export["id"]).content
    log(f"export {export['id']}: {len(archive)} bytes, {export['residual_count']} residual faces")
    check_archive(archive, expected_boxes, export["file_sha256"])
    return archive


def check_archive(archive: bytes, expected_boxes: dict[str, list[list[float]]], sha256: str) -> None:
    """The archive holds every image, the annotations, and a manifest with the approved boxes and sha256s."""
    if hashlib.sha256(archive).hexdigest() != sha256:
        raise Failed("the downloaded archive does not match the export's sha256")
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = set(zf.namelist())
        if "manifest.json" not in names or not any(n.startswith("annotations/") for n in names):
            raise Failed(f"no manifest or annotations in the archive: {sorted(names)}")
        manifest = json.loads(zf.read("manifest.json"))  # the summary; one line per image in manifest.jsonl
        lines = zf.read(manifest["images"]).decode().splitlines()
        entries = {entry["source_path"]: entry for entry in map(json.loads, filter(None, lines))}
        missing = sorted(set(expected_boxes) - set(entries))
        if missing:
            raise Failed(f"images missing from the manifest: {missing}")
        for name, boxes in expected_boxes.items():
            entry = entries[name]
            got = sorted([round(v) for v in b] for b in entry["boxes"])
            if got != sorted([round(v) for v in b] for b in boxes):
                raise Failed(f"{name}: the manifest has boxes {got}, the review saved {boxes}")
            if entry["output_path"] not in names:
                raise Failed(f"{name}: {entry['output_path']} is not in the archive")
            if hashlib.sha256(zf.read(entry["output_path"])).hexdigest() != entry["output_sha256"]:
                raise Failed(f"{name}: the image in the archive does not match the manifest's sha256")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Veil's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--reviewer-token", required=True)
    parser.add_argument("--images", required=True, type=Path, help="A folder of images to import")
    parser.add_argument("--out", type=Path, help="Where to save the archive")
    parser.add_argument(
        "--fallback-box", type=float, nargs=4, default=[10, 10, 60, 60], metavar=("X0", "Y0", "X1", "Y1")
    )
    parser.add_argument("--timeout", type=float, default=600, help="Seconds to wait for each background step")
    parser.add_argument(
        "--override-gate", metavar="REASON", help="Export even if the release gate refuses, recording this reason"
    )
    args = parser.parse_args(argv)
    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    try:
        archive = run(
            args.url, args.admin_token, args.reviewer_token, images, args.fallback_box, args.timeout,
            override_gate=args.override_gate,
        )  # fmt: skip
    except (Failed, requests.RequestException) as exc:
        print(f"pipeline failed: {exc}", file=sys.stderr)
        return 1
    if args.out:
        args.out.write_bytes(archive)
    print("pipeline ok: the archive holds every image, the annotations and the approved boxes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
