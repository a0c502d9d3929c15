"""Expected outputs kept beside the tests: for every shared case, the explanation as text (proof trees and
why-not) and the proof as JSON; for a few, the minimal counterfactuals too. A difference fails with a diff.

After a deliberate change, regenerate and review the diff before committing:
    AIDKB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from queries.case import load_case
from queries.decide import decide
from queries.explanation import explain
from queries.render import explanation_text

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
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{path.name}", "actual", n=2))
        pytest.fail(f"output differs from golden/{path.name}:\n{diff[:6000]}")


@pytest.mark.parametrize("path", sorted(SHARED_CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # sources are named relative to the project root, as on the command line
    case = load_case(Path(os.path.relpath(path, ROOT)))
    _compare(GOLDEN / f"{case.id}.json", json.dumps(decide(case).proof, indent=1, ensure_ascii=False) + "\n")
    _compare(GOLDEN / f"{case.id}.txt", explanation_text(explain(case, with_counterfactuals=False)))


COUNTERFACTUAL_CASES = ["lpp-over-annual-limit", "uveu-8-percent-exceeds", "acm-denied-tier3-ultimate-parent",
                        "tier1-location-tier2-hq-uses-lpp", "aca-consumer-gpus-to-brazil"]


@pytest.mark.parametrize("name", COUNTERFACTUAL_CASES)
def test_golden_counterfactuals(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    case = load_case(Path(os.path.relpath(SHARED_CASES / f"{name}.yaml", ROOT)))
    _compare(GOLDEN / f"{case.id}.counterfactuals.txt", explanation_text(explain(case)))
