"""POST /v1/decide answers exactly what `aidkb decide --json` prints, for every bundled case, one at a time and
as a batch; a bad field is a 422 that names it."""

from __future__ import annotations

import json

import pytest

from aidkb.queries.case import load_case

from .conftest import CASE_FILES, OWN_CASES, case_body, comparable, post_json

LPP = OWN_CASES / "lpp-exactly-at-annual-limit.yaml"


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_one_case_answers_as_the_cli(path, client, cli_decisions):
    r = post_json(client, "/v1/decide", case_body(path))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    answer = r.json()
    assert answer["proof"]["question"]["source"] == "request"
    assert comparable(answer) == comparable(cli_decisions[load_case(path).id])


def test_a_batch_answers_as_the_cli_in_order(client, cli_decisions):
    paths = sorted(OWN_CASES.glob("*.yaml"))[:60]
    r = post_json(client, "/v1/decide", "[" + ", ".join(case_body(p) for p in paths) + "]")
    assert r.status_code == 200, r.text
    answers = r.json()
    assert isinstance(answers, list) and len(answers) == len(paths)
    for path, answer in zip(paths, answers):
        assert comparable(answer) == comparable(cli_decisions[load_case(path).id])


def _case() -> dict:
    return json.loads(case_body(LPP))


def _error(client, body, status=422) -> dict:
    r = client.post(
        "/v1/decide",
        content=body if isinstance(body, (bytes, str)) else json.dumps(body),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == status, r.text
    out = r.json()
    assert set(out) >= {"error", "field"} and "Traceback" not in r.text
    return out


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda c: c["transaction"].update(item=3), "transaction.item"),  # wrong type
        (lambda c: c["transaction"].update(item="3A090.zz"), "transaction.item"),  # unknown ECCN
        (lambda c: c["transaction"].update(quantity="12"), "transaction.quantity"),  # a number as text
        (lambda c: c["transaction"].update(quantity=-1), "transaction.quantity"),  # negative
        (lambda c: c["transaction"].update(quantity=1.5), "transaction.quantity"),  # not whole
        (lambda c: c["transaction"].update(destinaton_country="MY"), "transaction.destinaton_country"),  # typo
        (lambda c: c.update(colour="red"), "colour"),  # unknown field
        (lambda c: c.update(as_of="2025-02-30"), "as_of"),  # not a date
        (lambda c: c.update(as_of="1 June 2025"), "as_of"),  # not YYYY-MM-DD
        (lambda c: c.update(mode="as_enforcd"), "mode"),
        (lambda c: c.pop("transaction"), "transaction"),  # missing
        (lambda c: c["transaction"]["end_user"].update(hq_country="XX"), "transaction.end_user.hq_country"),
        (lambda c: c.update(what_if={"move_country": {"country": "XX", "to_tier": 1}}), "what_if.move_country.country"),
        (
            lambda c: c.update(what_if=[{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": -5}}]),
            "what_if[0].set_parameter.value",
        ),
    ],
)
def test_a_bad_field_is_a_422_naming_it(client, change, field):
    case = _case()
    change(case)
    out = _error(client, case)
    assert out["field"] == field, out
    assert field in out["error"]


def test_in_a_batch_the_field_names_the_index(client):
    good, bad = _case(), _case()
    bad["id"] = "second"
    bad["transaction"]["tpp_per_unit"] = "lots"
    assert _error(client, [good, bad])["field"] == "[1].transaction.tpp_per_unit"
    assert _error(client, [good, good])["field"] == "[1].id"
    assert _error(client, [])["field"] == ""
    assert "at most 200" in _error(client, [good] * 201)["error"]


@pytest.mark.parametrize(
    "body, words",
    [
        (b"", "empty body"),
        (b"{", "not JSON"),
        (b'{"id": 1, "id": 2}', "duplicate key"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"quantity": NaN}', "NaN"),
        (b"[" * 100 + b"]" * 100, "nested"),
        (b'"a case"', "mapping"),
    ],
)
def test_a_body_that_is_not_a_case_is_a_422(client, body, words):
    assert words in _error(client, body)["error"]


def test_a_body_over_one_megabyte_is_a_413(client):
    big = _case()
    big["title"] = "x" * 1_100_000
    out = _error(client, json.dumps(big), status=413)
    assert "1,000,000" in out["error"]
    # without a Content-Length (chunked), the limit holds while reading
    r = client.post(
        "/v1/decide",
        content=iter([b'{"title": "' + b"x" * 600_000, b"x" * 600_000 + b'"}']),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413


def test_numbers_are_exact(client, cli_decisions):
    path = OWN_CASES / "4e091-just-above-threshold.yaml"
    text = case_body(path)
    assert "e+" in text.lower() or "e2" in text.lower()
    r = post_json(client, "/v1/decide", text)
    assert comparable(r.json()) == comparable(cli_decisions[load_case(path).id])
