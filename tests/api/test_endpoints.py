"""explain, check-proof, impact (cases, and the grid as a job), the reference endpoints, health and OpenAPI:
each answers what the command line answers, and bad input is a 422 naming the field."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from aidkb.queries.reader import read_document

from .conftest import (
    AIDKB,
    OWN_CASES,
    ROOT,
    case_body,
    comparable,
    json_text,
    post_json,
)

LPP = OWN_CASES / "lpp-exactly-at-annual-limit.yaml"
REFORMS = ROOT / "examples" / "reforms"


def cli(*args: str) -> str:
    run = subprocess.run([str(AIDKB), *args], capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    return run.stdout


def explain_body(path, **extra) -> str:
    return json.dumps({"case": "@CASE@", **extra}).replace('"@CASE@"', case_body(path))


# ---- explain


@pytest.mark.parametrize("goal", [None, "LPP", "license_required"])
def test_explain_json_is_the_cli_proof(client, goal):
    r = post_json(client, "/v1/explain", explain_body(LPP, goal=goal, format="json"))
    assert r.status_code == 200, r.text
    args = ["explain", str(LPP.relative_to(ROOT)), "--format", "json"] + (["--goal", goal] if goal else [])
    assert comparable(r.json()) == comparable(json.loads(cli(*args)))


@pytest.mark.parametrize(
    "fmt, media",
    [
        ("text", "text/plain"),
        ("md", "text/markdown"),
        ("html", "text/html"),
        ("dot", "text/vnd.graphviz"),
        ("ttl", "text/turtle"),
    ],
)
def test_explain_formats_are_the_cli_output(client, fmt, media):
    r = post_json(client, "/v1/explain", explain_body(LPP, goal="LPP", format=fmt))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    expected = cli("explain", str(LPP.relative_to(ROOT)), "--goal", "LPP", "--format", fmt)
    source = str(LPP.relative_to(ROOT))
    question = re.compile(r"/question/[0-9a-f]+")  # the question's IRI hashes its source too
    generated = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")  # the memo's time of generation (a minute may turn)

    def same(text: str) -> str:
        return generated.sub("<generated>", question.sub("/question/-", text))

    assert same(r.text.replace("request", "<source>")) == same(expected.replace(source, "<source>"))


def test_explain_refuses_a_bad_goal_format_or_field(client):
    for extra, field in (
        ({"goal": "LPX"}, "goal"),
        ({"format": "pdf"}, "format"),
        ({"goals": "LPP"}, "goals"),
        ({"goal": 5}, "goal"),
    ):
        r = post_json(client, "/v1/explain", explain_body(LPP, **extra))
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    bad = json.loads(case_body(LPP))
    bad["transaction"]["quantity"] = "many"
    r = client.post("/v1/explain", json={"case": bad})
    assert r.status_code == 422 and r.json()["field"] == "case.transaction.quantity"
    r = client.post("/v1/explain", json={"goal": "LPP"})
    assert r.status_code == 422 and r.json()["field"] == "case"


# ---- check-proof


def test_check_proof_accepts_a_decision_and_its_proof(client):
    decision = post_json(client, "/v1/decide", case_body(LPP)).json()
    for doc in (decision, decision["proof"]):
        r = client.post("/v1/check-proof", json=doc)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["valid"] is True and out["steps"] > 10 and out["error"] is None
        assert out["verdict"].startswith("valid proof")


def test_check_proof_reports_a_tampered_step_or_answer(client):
    decision = post_json(client, "/v1/decide", case_body(LPP)).json()
    proof = json.loads(json.dumps(decision["proof"]))
    first = next(iter(proof["conclusions"]))  # proof.v2: conclusions keyed by atom
    proof["conclusions"][first]["citations"] = ["15 CFR 999.9"]
    out = client.post("/v1/check-proof", json=proof).json()
    assert out["valid"] is False and f"conclusions[{json.dumps(first)}]" in out["error"]
    assert out["verdict"].startswith("INVALID")
    lied = {**decision, "license_required": not decision["license_required"]}
    out = client.post("/v1/check-proof", json=lied).json()
    assert out["valid"] is False and "license_required" in out["error"]


def test_check_proof_answers_as_the_cli(client, tmp_path):
    decision = post_json(client, "/v1/decide", case_body(LPP)).json()
    decision["proof"]["refutations"] = {}
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(decision), encoding="utf-8")
    run = subprocess.run(
        [str(AIDKB), "check-proof", str(path)], capture_output=True, text=True, check=False, cwd=ROOT, timeout=600
    )
    out = client.post("/v1/check-proof", json=decision).json()
    assert run.stdout.strip() == f"{path}: {out['verdict']}"
    assert run.returncode == (0 if out["valid"] else 1)


def test_check_proof_reports_what_is_not_a_proof_as_invalid(client):
    for doc in (
        {"format": "proof.v1"},
        [1, 2],
        "text",
        {"format": "proof.v1", "ruleset_version": "x", "question": {}, "conclusions": [], "refutations": []},
    ):
        r = client.post("/v1/check-proof", json=doc)
        assert r.status_code == 200, r.text
        assert r.json()["valid"] is False and r.json()["error"]
    r = client.post("/v1/check-proof", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not JSON" in r.json()["error"]


# ---- impact


def _reform(name: str) -> str:
    return json_text(read_document(REFORMS / name))


def _without_seconds(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "seconds"}


def test_impact_over_cases_is_the_cli_impact(client):
    paths = sorted(OWN_CASES.glob("*.yaml"))
    body = (
        '{"reform": '
        + _reform("acm-without-parent-test.yaml")
        + ', "cases": ['
        + ", ".join(case_body(p) for p in paths)
        + "]}"
    )
    r = post_json(client, "/v1/impact", body)
    assert r.status_code == 200, r.text
    expected = json.loads(
        cli("impact", "examples/reforms/acm-without-parent-test.yaml", "--cases", "tests/cases", "--json")
    )
    assert _without_seconds(r.json()) == _without_seconds(expected)
    assert r.json()["flipped"] >= 1


def test_impact_over_the_grid_runs_as_a_job(client):
    body = '{"reform": ' + _reform("move-malaysia-to-tier1.yaml") + ', "grid": true}'
    r = post_json(client, "/v1/impact", body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}" and job["status"] in ("queued", "running")
    deadline = time.monotonic() + 600
    seen = set()
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        job = client.get(f"/v1/jobs/{job['id']}").json()
        seen.add(job["status"])
    assert job["status"] == "done", job
    assert job["progress"]["done"] == job["progress"]["total"]
    expected = json.loads(cli("impact", "examples/reforms/move-malaysia-to-tier1.yaml", "--grid", "--json"))
    assert _without_seconds(job["result"]) == _without_seconds(expected)


def test_impact_refuses_bad_reforms_naming_the_field(client):
    case = case_body(LPP)
    for reform, field in (
        ({"operations": []}, "reform.operations"),
        (
            {"operations": [{"move_country": {"country": "ZZ", "to_tier": 1}}]},
            "reform.operations[0].move_country.country",
        ),
        (
            {"operations": [{"set_parameter": {"name": "no_such_parameter", "value": 1}}]},
            "reform.operations[0].set_parameter.name",
        ),
        (
            {"operations": [{"replace_rule": {"id": "acm_supply_chain", "text": "@rule acm_supply_chain broken"}}]},
            "reform.operations[0].replace_rule.text",
        ),
        ({"title": "x", "operatons": []}, "reform.operatons"),
    ):
        r = post_json(client, "/v1/impact", json.dumps({"reform": reform, "cases": ["@"]}).replace('"@"', case))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field, r.json()
    r = client.post("/v1/impact", json={"reform": {"operations": [{"disable_rule": {"id": "acm_supply_chain"}}]}})
    assert r.status_code == 422 and r.json()["field"] == "cases"
    r = client.post(
        "/v1/impact", json={"reform": {"operations": [{"disable_rule": {"id": "acm_supply_chain"}}]}, "grid": "yes"}
    )
    assert r.status_code == 422 and r.json()["field"] == "grid"


def test_an_unknown_job_is_a_404(client):
    r = client.get("/v1/jobs/0123456789abcdef")
    assert r.status_code == 404 and "no job" in r.json()["error"]


# ---- reference data


def test_rules_are_the_rule_set(client):
    from aidkb.kb.program import baseline_program

    rules = client.get("/v1/rules").json()
    assert [r["id"] for r in rules] == [r.id for r in baseline_program().rules]
    lpp = next(r for r in rules if r["id"] == "lpp_conditions")
    assert lpp["citations"] and lpp["says"] and ":-" in lpp["text"]


def test_provisions_carry_their_text(client):
    from aidkb import ontology

    provisions = client.get("/v1/provisions").json()
    assert {p["citation"] for p in provisions} == set(ontology.load().provisions)
    assert sum(1 for p in provisions if p["text"]) >= 10
    assert all(set(p) >= {"id", "citation", "title", "url", "grade", "text", "text_source"} for p in provisions)
    assert len({p["id"] for p in provisions}) == len(provisions)


def test_countries_with_their_listings(client):
    countries = {c["code"]: c for c in client.get("/v1/countries").json()}
    assert countries["MY"]["name"] == "Malaysia"
    assert any(listing["group"] == "D5" for listing in countries["CN"]["listings"])


def test_tiers_on_a_date(client):
    import datetime as dt

    from aidkb.queries.impact import tier_of_countries
    from aidkb.queries.reform import Reform

    r = client.get("/v1/tiers", params={"as_of": "2025-06-01"})
    assert r.status_code == 200 and r.json()["as_of"] == "2025-06-01"
    assert r.json()["tiers"] == dict(sorted(tier_of_countries(Reform(), dt.date(2025, 6, 1)).items()))
    assert r.json()["tiers"]["CN"] == 3 and r.json()["tiers"]["DE"] == 1 and r.json()["tiers"]["MY"] == 2
    for bad in ("2025-13-01", "June", "1999-01-01"):
        r = client.get("/v1/tiers", params={"as_of": bad})
        assert r.status_code == 422 and r.json()["field"] == "as_of", r.text


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["ruleset_version"]
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {
        "/v1/decide",
        "/v1/explain",
        "/v1/check-proof",
        "/v1/impact",
        "/v1/jobs/{job_id}",
        "/v1/rules",
        "/v1/provisions",
        "/v1/countries",
        "/v1/tiers",
        "/health",
    } <= set(doc["paths"])
    assert {"Case", "Reform", "Decision", "Proof", "Error"} <= set(doc["components"]["schemas"])


def test_unknown_paths_and_methods_answer_json(client):
    r = client.get("/v2/decide")
    assert r.status_code == 404 and "error" in r.json()
    r = client.get("/v1/decide")
    assert r.status_code == 405 and "error" in r.json()
