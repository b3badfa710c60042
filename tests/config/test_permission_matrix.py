"""Every URL of the URLconf (pages and API) x five roles, with the status each must get.

The rows are checked against the URLconf itself: a new URL without a row here fails
`test_every_url_has_a_row`. The unversioned /api/ paths are the same views as /api/v1/ (checked), so the v1 rows
cover them. Django's own admin is covered for its pages without ids (index, changelists, add forms); its pages of
one object sit behind the same staff check.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from reviewer.models import Export, ImportJob, Leak
from reviewer.services.export_files import export_storage, leak_crop_name
from reviewer.services.tokens import token_create
from tests.factories import (
    AdminFactory,
    AssignmentFactory,
    BatchFactory,
    BatchItemFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    InstructionExampleFactory,
    InviteFactory,
    ProposalFactory,
    UserFactory,
)
from tests.images import jpeg_bytes

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "reviewer_without_assignment", "reviewer_of_another_batch", "assigned_reviewer", "admin")

# Shorthands for the common rows: (anonymous, without assignment, other batch, assigned, admin).
ADMIN_API = (401, 403, 403, 403, 200)
ADMIN_PAGE = (302, 403, 403, 403, 200)
ADMIN_PAGE_POST = (302, 403, 403, 403, 302)
PUBLIC = (200, 200, 200, 200, 200)


NOT_MINE = (302, 404, 404, 404, 404)  # a crowd study that is not the signed-in person's


def admin_page(admin_status: int) -> tuple:
    return (302, 403, 403, 403, admin_status)


def admin_api(admin_status: int) -> tuple:
    return (401, 403, 403, 403, admin_status)


# name -> (method, kwargs from the world, expected per role)
MATRIX: dict[str, tuple[str, str, tuple]] = {
    # --- accounts and docs
    "login": ("get", "", (200, 302, 302, 302, 302)),
    "logout": ("post", "", (302, 302, 302, 302, 302)),
    "account-tokens": ("get", "", (302, 200, 200, 200, 200)),
    "account-token-revoke": ("post", "token", (302, 302, 302, 302, 302)),
    "api-schema": ("get", "", PUBLIC),
    "api-docs": ("get", "", PUBLIC),
    "api-redoc": ("get", "", PUBLIC),
    "api-me": ("get", "", (401, 200, 200, 200, 200)),
    "api-users": ("get", "", ADMIN_API),
    "api-tokens": ("get", "", (401, 200, 200, 200, 200)),
    "api-token-revoke": ("post", "pk:token", (401, 404, 404, 200, 404)),  # only its owner (the assigned reviewer)
    "api-audit-events": ("get", "", ADMIN_API),
    # --- datasets, images, imports
    "home": ("get", "", (302, 302, 302, 302, 302)),
    "dataset-list": ("get", "", ADMIN_PAGE),
    "dataset-create": ("post", "", ADMIN_PAGE_POST),
    "dataset-detail": ("get", "dataset", ADMIN_PAGE),
    "dataset-import": ("post", "dataset", ADMIN_PAGE_POST),
    "import-detail": ("get", "import", ADMIN_PAGE),
    "image-original": ("get", "image", (302, 404, 404, 200, 200)),
    "image-display": ("get", "image", (302, 404, 404, 200, 200)),
    "image-thumbnail": ("get", "image", (302, 404, 404, 200, 200)),
    "api-dataset-list": ("get", "", ADMIN_API),
    "api-dataset-detail": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-images": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-import": ("post", "pk:dataset", admin_api(415)),  # JSON where multipart files are expected
    "api-image-detail": ("get", "pk:image", ADMIN_API),
    "api-image-proposals": ("get", "pk:image", ADMIN_API),
    "api-image-candidates": ("get", "pk:image", ADMIN_API),
    "api-import-detail": ("get", "pk:import", ADMIN_API),
    "api-import-rejections": ("get", "pk:import", ADMIN_API),
    # --- detection
    "detection-start": ("post", "dataset", ADMIN_PAGE_POST),
    "detection-run": ("get", "run", ADMIN_PAGE),
    "detection-run-retry": ("post", "run", ADMIN_PAGE_POST),
    "detection-run-make-current": ("post", "run", ADMIN_PAGE_POST),
    "api-dataset-detection-runs": ("get", "pk:dataset", ADMIN_API),
    "api-detection-run": ("get", "pk:run", ADMIN_API),
    "api-detection-run-failures": ("get", "pk:run", ADMIN_API),
    "api-detection-run-retry": ("post", "pk:run", admin_api(409)),  # nothing failed
    "api-detection-run-make-current": ("post", "pk:run", admin_api(200)),
    # --- review
    "reviewer-home": ("get", "", (302, 200, 200, 200, 302)),
    "review-batch-start": ("get", "batch", (302, 404, 404, 302, 404)),
    "review-batch-take": ("post", "pool", (302, 302, 302, 302, 404)),
    "review-image": ("get", "batch+image", (302, 404, 404, 200, 404)),
    "api-review-batches": ("get", "", (401, 200, 200, 200, 403)),
    "api-pool": ("get", "", (401, 200, 200, 200, 403)),
    "api-review-batch-take": ("post", "pool_id", (401, 201, 201, 201, 403)),
    "api-review-next": ("post", "batch_id", (401, 404, 404, 200, 404)),
    "api-review-image": ("get", "batch_id+image_id", (401, 404, 404, 200, 404)),
    "api-review-lease": ("post", "batch_id+image_id", (401, 404, 404, 200, 404)),
    "api-review-submit": ("post", "batch_id+image_id", (401, 404, 404, 400, 404)),  # an empty body
    # --- batches, assignments, quality
    "workflow-batches": ("get", "dataset", ADMIN_PAGE),
    "workflow-batches-create": ("post", "dataset", ADMIN_PAGE_POST),
    "workflow-assign-round-robin": ("post", "dataset", ADMIN_PAGE_POST),
    "workflow-batch-assign": ("post", "batch", ADMIN_PAGE_POST),
    "workflow-assignment-revoke": ("post", "assignment", ADMIN_PAGE_POST),
    "workflow-quality": ("get", "dataset", ADMIN_PAGE),
    "api-dataset-batches": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-assign": ("get", "pk:dataset", ADMIN_API),
    "api-batch-assign": ("post", "pk:batch", admin_api(400)),  # no reviewers named
    "api-assignment-revoke": ("post", "pk:assignment", admin_api(200)),
    "api-dataset-quality": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-statistics": ("get", "pk:dataset", ADMIN_API),
    # --- approval and gold
    "workflow-approve": ("get", "dataset", ADMIN_PAGE),
    "workflow-approve-images": ("post", "dataset", ADMIN_PAGE_POST),
    "workflow-approve-image": ("post", "image", ADMIN_PAGE_POST),
    "workflow-send-back": ("post", "image", ADMIN_PAGE_POST),
    "workflow-gold": ("get", "dataset", ADMIN_PAGE),
    "workflow-gold-mark": ("post", "dataset", ADMIN_PAGE_POST),
    "workflow-gold-unmark": ("post", "image", ADMIN_PAGE_POST),
    "api-approval-queue": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-approved": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-approve": ("post", "pk:dataset", admin_api(400)),  # neither image_ids nor all
    "api-dataset-gold": ("get", "pk:dataset", ADMIN_API),
    "api-image-reviews": ("get", "pk:image", ADMIN_API),
    "api-image-approve": ("post", "pk:image", admin_api(409)),  # not reviewed yet
    "api-image-send-back": ("post", "pk:image", admin_api(409)),  # nothing to send back
    "api-image-gold": ("post", "pk:image", admin_api(400)),  # not approved: no boxes to take
    # --- exports: an id answers 404 to anyone not allowed, as for a missing one
    "export-start": ("post", "dataset", ADMIN_PAGE_POST),
    "export-detail": ("get", "export", ADMIN_PAGE),
    "export-download": ("get", "export", (302, 404, 404, 404, 200)),
    "export-leak-thumbnail": ("get", "export+leak", (302, 404, 404, 404, 200)),
    "export-file": ("get", "export+member", (302, 404, 404, 404, 404)),  # the export is a zip: no files of its own
    "export-retry": ("post", "export", ADMIN_PAGE_POST),
    "api-dataset-exports": ("get", "pk:dataset", ADMIN_API),
    "api-export-detail": ("get", "pk:export", (401, 404, 404, 404, 200)),
    "api-export-leaks": ("get", "pk:export", (401, 404, 404, 404, 200)),
    "api-export-download": ("get", "pk:export", (401, 404, 404, 404, 200)),
    "api-export-file": ("get", "pk:export+member", (401, 404, 404, 404, 404)),
    "api-export-retry": ("post", "pk:export", (401, 404, 404, 404, 409)),  # done: nothing to retry
    # --- safety net
    "api-dataset-flagged": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-release-gate": ("get", "pk:dataset", ADMIN_API),
    "api-dataset-audit-start": ("post", "pk:dataset", admin_api(400)),  # no auditor named
    "api-export-send-back": ("post", "pk:export", admin_api(400)),  # neither leaks nor all
    "api-leak-dismiss": ("post", "pk:leak", admin_api(200)),
    "export-leaks-send-back": ("post", "export", ADMIN_PAGE_POST),
    "export-leak-dismiss": ("post", "export+leak", ADMIN_PAGE_POST),
    "dataset-audit-start": ("post", "dataset", ADMIN_PAGE_POST),
    "dataset-gate-recompute": ("post", "dataset", ADMIN_PAGE_POST),
    "dataset-triage": ("get", "dataset", ADMIN_PAGE),
    "dataset-triage-resolve": ("post", "dataset", ADMIN_PAGE_POST),  # no flag named: back to the page
    "image-second-look": ("get", "image", ADMIN_PAGE),
    "image-viewer": ("get", "dataset+image", (302, 404, 404, 404, 200)),
    # --- admin workspace
    "import-progress": ("get", "import", ADMIN_PAGE),
    "people": ("get", "", ADMIN_PAGE),
    "person-create": ("post", "", admin_page(400)),  # an empty form
    "person-action": ("post", "user", ADMIN_PAGE_POST),
    "dataset-settings": ("get", "dataset", ADMIN_PAGE),
    "audit-log": ("get", "", ADMIN_PAGE),
    "audit-csv": ("get", "", ADMIN_PAGE),
    "dashboard-dataset": ("get", "dataset", ADMIN_PAGE),
    "dashboard-reviewers": ("get", "dataset", ADMIN_PAGE),
    "dashboard-detector": ("get", "dataset", ADMIN_PAGE),
    "dashboard-missed": ("get", "dataset", ADMIN_PAGE),
    "dashboard-throughput": ("get", "", ADMIN_PAGE),
    "health-page": ("get", "", ADMIN_PAGE),
    # The same answer for anyone (a load balancer has no account); 503 here, since reconcile never ran in this world.
    "health-probe": ("get", "", (503, 503, 503, 503, 503)),
    # --- crowd: admins' pages, then the worker's (a worker id is the session; others have no study here)
    "crowd-admin": ("get", "dataset", ADMIN_PAGE),
    "crowd-admin-setup": ("post", "dataset", admin_page(400)),  # an empty form
    "crowd-admin-invite": ("post", "dataset", admin_page(400)),
    "crowd-admin-example": ("post", "dataset", admin_page(400)),
    "crowd-admin-code": ("post", "dataset", admin_page(400)),
    "crowd-admin-paysheet": ("get", "dataset", admin_page(400)),  # no period asked
    "crowd-admin-invite-revoke": ("post", "invite", ADMIN_PAGE_POST),
    "crowd-admin-example-remove": ("post", "example", ADMIN_PAGE_POST),
    "crowd-join": ("get", "join", (404, 404, 404, 404, 404)),  # a link not signed by Veil
    "crowd-home": ("get", "", (302, 302, 302, 302, 302)),  # to the login, or to one's own pages
    "crowd-sign-in-link": ("post", "", (302, 403, 403, 403, 403)),  # crowd workers only
    "crowd-sign-in": ("get", "signin", PUBLIC),
    "crowd-signed-out": ("get", "", PUBLIC),  # where a crowd worker lands after logging out
    "crowd-hub": ("get", "participation", NOT_MINE),
    "crowd-instructions": ("get", "participation", NOT_MINE),
    "crowd-qualify": ("get", "participation", NOT_MINE),
    "crowd-work": ("post", "participation", NOT_MINE),
    "crowd-done": ("get", "participation", NOT_MINE),
    "crowd-dataset-instructions": ("get", "dataset", (302, 404, 200, 200, 200)),  # reviewers of the dataset
    "crowd-example-image": ("get", "example", (302, 404, 200, 200, 200)),
    "crowd-qualification-image": ("get", "attempt+image", NOT_MINE),
}


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield namespace, pattern, prefix + str(pattern.pattern)


URLS = list(_walk(get_resolver().url_patterns))
OWN = [(p.name, route) for ns, p, route in URLS if ns is None]
LEGACY = [(p, route) for ns, p, route in URLS if ns == "legacy"]
DJANGO_ADMIN = [route for ns, p, route in URLS if ns == "admin" and "<" not in route]


def test_every_url_has_a_row():
    missing = sorted({name or route for name, route in OWN} - set(MATRIX))
    assert missing == [], f"URLs without a row in the permission matrix: {missing}"
    assert sorted(set(MATRIX) - {name for name, _ in OWN}) == []


def test_the_old_api_paths_are_the_v1_views():
    v1 = {p.name: p.callback for ns, p, route in URLS if ns is None and route.startswith("api/v1/")}
    assert LEGACY
    for pattern, route in LEGACY:
        assert route.startswith("api/")
        assert not route.startswith("api/v1/")
        assert pattern.callback.view_class is v1[pattern.name].view_class, route


@pytest.fixture(scope="module")
def _world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at its end; each test runs in a savepoint of
    it (pytest-django's `db`), so one row's writes never reach the next."""
    folder = tmp_path_factory.mktemp("matrix")
    paths = override_settings(MEDIA_ROOT=folder / "media", VEIL_EXPORT_DIR=folder / "x")
    with django_db_blocker.unblock(), paths, transaction.atomic():
        yield folder, _build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(_world, settings):
    folder, built = _world
    settings.MEDIA_ROOT, settings.VEIL_EXPORT_DIR = folder / "media", folder / "x"
    # The export's archive and leak crop, in the exports storage this test's settings point at.
    _, ids = built
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("manifest.json", "{}")
    storage = export_storage()
    for name, content in (
        ("m.zip", archive.getvalue()),
        (leak_crop_name(Leak(pk=ids["leak"], export_id=ids["export"])), jpeg_bytes(8, 8)),
    ):
        if not storage.exists(name):
            storage.save(name, ContentFile(content))
    return built


def _build_world():
    admin = AdminFactory(username="matrix-admin")
    users = {
        "reviewer_without_assignment": UserFactory(username="loner"),
        "reviewer_of_another_batch": UserFactory(username="other"),
        "assigned_reviewer": UserFactory(username="assigned"),
        "admin": admin,
    }
    dataset = DatasetFactory(name="matrix")
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    batch, other_batch = BatchFactory(dataset=dataset), BatchFactory(dataset=dataset)
    pool = BatchFactory(dataset=dataset, is_pool=True)
    image = ImageFactory(dataset=dataset, status="detected", content=jpeg_bytes(64, 48, seed=1))
    other_image = ImageFactory(dataset=dataset, status="detected", content=jpeg_bytes(64, 48, seed=2))
    ProposalFactory(image=image, run=run)
    BatchItemFactory(batch=batch, image=image, position=0)
    BatchItemFactory(batch=other_batch, image=other_image, position=0)
    BatchItemFactory(batch=pool, image=ImageFactory(dataset=dataset, status="detected"), position=0)
    assignment = AssignmentFactory(batch=batch, reviewer=users["assigned_reviewer"])
    AssignmentFactory(batch=other_batch, reviewer=users["reviewer_of_another_batch"])
    job = ImportJob.objects.create(dataset=dataset, source="api", status="done")
    export = Export.objects.create(dataset=dataset, status="done", options={"archive": "zip"}, file_name="m.zip")
    leak = Leak.objects.create(export=export, image=image, kind="missed", score=0.5, x0=1, y0=1, x1=9, y1=9)
    token, _ = token_create(owner=users["assigned_reviewer"], name="matrix")
    invite = InviteFactory(dataset=dataset, created_by=admin)
    example = InstructionExampleFactory(dataset=dataset, image=other_image)
    ids = {
        "dataset": dataset.pk, "image": image.pk, "import": job.pk, "run": run.pk, "batch": batch.pk,
        "pool": pool.pk, "assignment": assignment.pk, "export": export.pk, "leak": leak.pk, "token": token.pk,
        "user": users["reviewer_without_assignment"].pk, "invite": invite.pk, "example": example.pk,
        "join": "not-a-link", "signin": "not-a-link", "participation": 999_999, "attempt": 999_999,
        "member": "manifest.json",
    }  # fmt: skip
    return users, ids


KWARG_NAMES = {
    "dataset": "dataset_id", "image": "image_id", "import": "import_id", "run": "run_id", "batch": "batch_id",
    "pool": "batch_id", "assignment": "assignment_id", "export": "export_id", "leak": "leak_id", "token": "token_id",
    "user": "user_id", "invite": "invite_id", "example": "example_id", "join": "token", "signin": "token",
    "participation": "participation_id", "attempt": "attempt_id", "member": "member",
}  # fmt: skip


def _kwargs(spec: str, ids: dict) -> dict:
    kwargs = {}
    for part in filter(None, spec.split("+")):
        if part.startswith("pk:"):
            kwargs["pk"] = ids[part[3:]]
        elif part.endswith("_id") and part[:-3] in ids:
            kwargs[part if part != "pool_id" else "batch_id"] = ids[part[:-3]]
        else:
            kwargs[KWARG_NAMES[part]] = ids[part]
    return kwargs


def _client(users: dict, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    return client


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_permission_matrix(world, name):
    users, ids = world
    method, spec, expected = MATRIX[name]
    url = reverse(name, kwargs=_kwargs(spec, ids))
    got = []
    for role in ROLES:  # the admin goes last: its writes cannot change what a reviewer is answered
        client = _client(users, role)
        if method == "get":
            response = client.get(url)
        else:
            response = client.post(url, {}, content_type="application/json") if "/api/" in url else client.post(url)
        got.append(response.status_code)
        if url.startswith("/api/") and name not in ("api-docs", "api-redoc", "api-export-download", "api-schema"):
            assert response["Content-Type"].startswith("application/json"), (role, url)
        if response.status_code == 302 and role == "anonymous":
            assert response["Location"].startswith(reverse("login")) or name in ("logout", "home"), url
    assert dict(zip(ROLES, got, strict=True)) == dict(zip(ROLES, expected, strict=True)), url


@pytest.mark.parametrize("route", DJANGO_ADMIN)
def test_django_admin_pages_are_for_staff_only(world, route):
    users, _ = world
    url = "/" + route
    statuses = [_client(users, role).get(url).status_code for role in ROLES]
    # Veil's admins are staff without Django model permissions (superusers have them): the back office opens,
    # its model pages answer 403; reviewers are sent to the admin login.
    if route.endswith("logout/"):
        assert statuses == [302, 302, 302, 302, 405]  # logging out is a POST
    elif route.endswith("login/"):
        assert statuses == [200, 200, 200, 200, 302]
    elif route in ("django-admin/", "django-admin/password_change/", "django-admin/password_change/done/",
                   "django-admin/jsi18n/"):  # fmt: skip
        assert statuses == [302, 302, 302, 302, 200]
    else:
        assert statuses == [302, 302, 302, 302, 403], url
