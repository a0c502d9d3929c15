"""Concurrent requests with different what-if reforms each get their own answer (the command line's), never
another request's; an overrun is a 504 and a bug a 500, both without a traceback."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import (
    OWN_CASES,
    SHARED_CASES,
    case_body,
    cli_decide_json,
    comparable,
    post_json,
)

BASES = [
    OWN_CASES / "lpp-exactly-at-annual-limit.yaml",
    OWN_CASES / "compliance-required-2025-05-15-malaysia.yaml",
    SHARED_CASES / "acm-eligible-server-assembly-malaysia.yaml",
    OWN_CASES / "lpp-one-tpp-over-annual-limit.yaml",
]
REFORMS = [
    None,
    [{"move_country": {"country": "MY", "to_tier": 1}}],
    [{"move_country": {"country": "MY", "to_tier": 3}}],
    [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 40_000_000}}],
    [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 1_000}}],
    [{"disable_rule": {"id": "acm_supply_chain"}}],
    [{"add_to_group": {"country": "MY", "group": "D5"}}, {"disable_rule": {"id": "lpp_conditions"}}],
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("variants")


@pytest.fixture(scope="module")
def variants(folder) -> list[tuple[str, str]]:
    """(case id, JSON body) for every base case under every reform, also written to `folder` as case files."""
    out = []
    for base in BASES:
        data = json.loads(case_body(base))
        for k, ops in enumerate(REFORMS):
            case = {**data, "id": f"{data['id']}-r{k}", "what_if": ops}
            text = json.dumps(case)
            (folder / f"{case['id']}.yaml").write_text(text, encoding="utf-8")  # JSON is YAML
            out.append((case["id"], text))
    return out


@pytest.fixture(scope="module")
def expected(variants, folder) -> dict[str, dict]:
    return {d["id"]: comparable(d) for d in cli_decide_json(folder)}


def test_the_reforms_change_answers(expected):
    for base in BASES:
        stem = json.loads(case_body(base))["id"]
        outcomes = {
            json.dumps([expected[f"{stem}-r{k}"][f] for f in ("license_required", "authorized_by", "review_policy")])
            for k in range(len(REFORMS))
        }
        assert len(outcomes) >= 2, stem  # otherwise the test could not see a leak


def test_concurrent_requests_with_different_reforms_do_not_leak(client, variants, expected):
    rng = random.Random(13)
    work = variants * 3
    rng.shuffle(work)

    def ask(item):
        case_id, text = item
        r = post_json(client, "/v1/decide", text)
        return case_id, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, work))
    assert len(results) == len(work)
    for case_id, status, answer in results:
        assert status == 200, answer
        assert answer["id"] == case_id
        assert comparable(answer) == expected[case_id], case_id


def test_batches_mixing_reforms_do_not_leak(client, variants, expected):
    body = "[" + ", ".join(text for _, text in variants) + "]"
    answers = post_json(client, "/v1/decide", body).json()
    assert [comparable(a) for a in answers] == [expected[i] for i, _ in variants]


def test_an_overrun_is_a_504_and_the_next_question_is_answered():
    from fastapi.testclient import TestClient

    from aidkb.app.api import create_app
    from aidkb.queries.service import Pool

    pool = Pool(1, seconds=0.05)  # a fresh worker cannot even start in that time
    with pool, TestClient(create_app(pool=pool, warm=False), raise_server_exceptions=False) as c:
        r = post_json(c, "/v1/decide", case_body(BASES[0]))
        assert r.status_code == 504, r.text
        assert r.json()["type"] == "DeadlineExceeded"
        assert "no answer within" in r.json()["error"] and "Traceback" not in r.text
        pool.seconds = 120
        for w in pool._all:
            w.seconds = 120
        r = post_json(c, "/v1/decide", case_body(BASES[0]))
        assert r.status_code == 200, r.text


def test_a_bug_is_a_500_without_a_traceback():
    from fastapi.testclient import TestClient

    from aidkb.app.api import create_app

    app = create_app(warm=False)

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json()["type"] == "InternalError"
    assert "secret" not in r.text and "Traceback" not in r.text
