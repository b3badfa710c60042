"""Schemathesis against the live schema: bounded (a few seeded, derandomized examples per operation), every
answer must be no 5xx, a status the schema lists, the content type it names, and a body that matches it.

The schema is generated at import and checked to be the one the live server publishes (schemathesis's lazy
fixture loader does not work with pytest 9).
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from reviewer.models import Image
from reviewer.services.tokens import token_create
from tests.factories import (
    AdminFactory,
    ApprovalFactory,
    ApprovedBoxFactory,
    DatasetFactory,
    DetectionRunFactory,
    ImageFactory,
    ProposalFactory,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _generated() -> dict:
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


GENERATED = _generated()
schema = schemathesis.openapi.from_dict(GENERATED)


@pytest.fixture
def rows(transactional_db):
    """Some rows for the operations to find."""
    dataset = DatasetFactory(name="fuzz")
    run = DetectionRunFactory(dataset=dataset)
    dataset.current_detection_run = run
    dataset.save()
    image = ImageFactory(dataset=dataset, status=Image.Status.APPROVED)
    ProposalFactory(image=image, run=run)
    ApprovedBoxFactory(approval=ApprovalFactory(image=image))


@pytest.fixture
def admin_token(rows):
    return token_create(owner=AdminFactory(username="fuzzer"), name="fuzz")[1]


def test_the_fuzzed_schema_is_the_live_one(live_server):
    live = requests.get(f"{live_server.url}/api/v1/schema/", params={"format": "json"}, timeout=60)
    assert live.status_code == 200
    assert live.json() == GENERATED
    assert len(GENERATED["paths"]) > 40


FUZZ = settings(
    max_examples=3,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_no_server_error_and_no_answer_outside_the_schema(live_server, rows, admin_token):
    """Every operation in one test, so the database is set up (and flushed) once, not once per operation."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @FUZZ
        @given(case=operation.as_strategy())
        def fuzz(case):
            case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collect them all: one report names every operation that failed
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 40
    assert failures == [], "\n\n".join(failures)
