"""Expected outputs kept beside the tests: for every shared case, the explanation as text (proof trees and
why-not) and the proof as JSON (proof.v2); for a few, the minimal counterfactuals too. A difference fails with a
diff. golden/v1/ keeps the proofs as proof.v1 wrote them, the last time: each converts to proof.v2.

After a deliberate change, regenerate and review the diff before committing:
    AIDKB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from aidkb.queries.case import load_case
from aidkb.queries.decide import decide
from aidkb.queries.explanation import explain
from aidkb.queries.render import explanation_text

from .conftest import ROOT, SHARED_CASES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("AIDKB_UPDATE_GOLDEN"))


def _compare(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path.name}: run AIDKB_UPDATE_GOLDEN=1 pytest {__file__}"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(True), actual.splitlines(True), f"golden/{path.name}", "actual", n=2
            )
        )
        pytest.fail(f"output differs from golden/{path.name}:\n{diff[:6000]}")


@pytest.mark.parametrize("path", sorted(SHARED_CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # sources are named relative to the project root, as on the command line
    case = load_case(Path(os.path.relpath(path, ROOT)))
    _compare(
        GOLDEN / f"{case.id}.json", json.dumps(decide(case).to_json()["proof"], indent=1, ensure_ascii=False) + "\n"
    )
    _compare(GOLDEN / f"{case.id}.txt", explanation_text(explain(case, with_counterfactuals=False)))


COUNTERFACTUAL_CASES = [
    "lpp-over-annual-limit",
    "uveu-8-percent-exceeds",
    "acm-denied-tier3-ultimate-parent",
    "tier1-location-tier2-hq-uses-lpp",
    "aca-consumer-gpus-to-brazil",
]


@pytest.mark.parametrize("name", COUNTERFACTUAL_CASES)
def test_golden_counterfactuals(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    case = load_case(Path(os.path.relpath(SHARED_CASES / f"{name}.yaml", ROOT)))
    _compare(GOLDEN / f"{case.id}.counterfactuals.txt", explanation_text(explain(case)))


V1_GOLDEN = sorted((GOLDEN / "v1").glob("*.json"))


@pytest.mark.parametrize("path", V1_GOLDEN, ids=lambda p: p.stem)
def test_every_v1_golden_converts_to_v2(path):
    from jsonschema import Draft202012Validator

    from aidkb import ontology
    from aidkb.kb.program import baseline_program
    from aidkb.queries.proof_v2 import convert_v1, from_v2

    v1 = json.loads(path.read_text(encoding="utf-8"))
    v2 = json.loads(json.dumps(convert_v1(v1)))
    schema = json.loads((ROOT / "queries" / "schemas" / "proof.v2.json").read_text(encoding="utf-8"))
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(v2)]
    assert not errors, errors[:3]
    assert v2["format"] == "proof.v2" and list(v2["conclusions"]) == [
        f"{n['atom'][0]}({', '.join(map(str, n['atom'][1:]))})" for n in v1["conclusions"]
    ]
    assert from_v2(v2, baseline_program(), ontology.load()) == v1  # nothing lost


def test_v1_goldens_are_kept():
    assert len(V1_GOLDEN) == 29
