"""aidkb.queries.service, the facade every face calls: the same answers as queries/* for a mapping or a Case, and
errors that carry their HTTP status."""

from __future__ import annotations

import json

import pytest

from aidkb.kb.deadline import DeadlineExceeded, WorkerFailed
from aidkb.kb.errors import AidkbError
from aidkb.queries import service
from aidkb.queries.case import CaseError, load_case
from aidkb.queries.decide import Decision
from aidkb.queries.decide import decide as decide_case

from .conftest import OWN_CASES, case_body, comparable

LPP = OWN_CASES / "lpp-exactly-at-annual-limit.yaml"


def test_decide_takes_a_mapping_or_a_case():
    case = load_case(LPP)
    from aidkb.queries.reader import load_json

    from_mapping = service.decide(load_json(case_body(LPP), str(LPP)))
    assert isinstance(from_mapping, Decision)
    assert comparable(from_mapping.to_json()) == comparable(service.decide(case).to_json())
    assert service.decide(case).to_json() == decide_case(case).to_json()
    assert service.decide_json(case) == json.loads(json.dumps(decide_case(case).to_json()))


def test_explain_formats_and_goals():
    case = load_case(LPP)
    assert service.explain(case, "LPP", "json")["format"] == "proof.v2"
    assert service.explain(case, "LPP", "dot").startswith("digraph")
    with pytest.raises(service.RequestError) as e:
        service.explain(case, "LPX", "text")
    assert e.value.field == "goal" and e.value.http_status == 422
    with pytest.raises(service.RequestError) as e:
        service.explain(case, None, "pdf")
    assert e.value.field == "format"


def test_errors_carry_their_status():
    assert service.PayloadTooLarge.http_status == 413 and DeadlineExceeded.http_status == 504
    assert service.Busy.http_status == 503 and service.NotFound.http_status == 404 and WorkerFailed.http_status == 503
    assert all(
        issubclass(c, AidkbError)
        for c in (
            service.RequestError,
            service.PayloadTooLarge,
            DeadlineExceeded,
            service.Busy,
            service.NotFound,
            WorkerFailed,
        )
    )
    # one error per failure: the engine's own deadline errors cross the service unwrapped
    assert not hasattr(service, "Timeout") and not hasattr(service, "EngineUnavailable")
    with pytest.raises(CaseError) as e:
        service.decide({"id": "x"})
    assert e.value.field == "as_of"
    with pytest.raises(service.RequestError) as e:
        service.tiers("2025-02-30")
    assert e.value.field == "as_of"


def test_at_names_the_field_from_the_root():
    with pytest.raises(CaseError) as e, service.at("cases[2]"):
        service.case_of({"id": "x", "as_of": 5})
    assert e.value.field == "cases[2].as_of" and "cases[2].as_of" in str(e.value)


def test_reference_data():
    assert len(service.rules()) > 100 and all(r["citations"] for r in service.rules())
    assert len(service.countries()) > 200
    assert service.tiers("2025-06-01")["CN"] == 3


def test_impact_over_cases():
    case = load_case(LPP)
    result = service.impact(
        {"operations": [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 1000}}]}, [case]
    )
    assert result["compared"] == 1 and result["flipped"] == 1


def test_the_pool_reports_busy_and_a_dead_worker():
    import os
    import threading
    import time

    with service.Pool(1, seconds=60, wait=0.2) as pool:
        assert pool.call(max, 2, 3) == 3
        sleeper = threading.Thread(target=pool.call, args=(time.sleep, 3))
        sleeper.start()
        time.sleep(0.5)
        with pytest.raises(service.Busy):
            pool.call(max, 1, 2)
        sleeper.join()
        with pytest.raises(WorkerFailed) as e:
            pool.call(os._exit, 1)  # the worker process dies under the question
        assert e.value.http_status == 503 and "ended without answering" in str(e.value)
        assert pool.call(max, 4, 5) == 5  # and is restarted for the next one
