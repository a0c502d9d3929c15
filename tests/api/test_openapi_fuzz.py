"""Schemathesis against the OpenAPI document (bounded): generated requests, valid and not, never get a 500,
and every response conforms to the document (status code, content type, schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aidkb.app.api import Jobs, create_app
from aidkb.queries.service import Pool

POOL = Pool(2, seconds=60)
SLOW = Pool(1, seconds=60)
JOBS = Jobs(seconds=120)
APP = create_app(pool=POOL, jobs=JOBS, slow=SLOW, warm=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module", autouse=True)
def _close():
    yield
    JOBS.close()
    POOL.close()
    SLOW.close()


@schema.exclude(path="/v1/explain").parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_the_api_conforms_to_its_document(case):
    case.call_and_validate(checks=CHECKS)


# explain computes counterfactuals (seconds per case): fewer examples
@schema.include(path="/v1/explain").parametrize()
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_explain_conforms_to_its_document(case):
    case.call_and_validate(checks=CHECKS)
