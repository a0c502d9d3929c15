"""Every worked case in ../shared/cases and tests/cases, run as a legal test: the decision must match the
case's expected outcome (licence, routes, red flags, unavailable routes, citations)."""
from __future__ import annotations

import pytest

from queries.case import load_case
from queries.decide import decide
from queries.expectations import mismatches

from .conftest import OWN_CASES, SHARED_CASES

CASE_FILES = sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml"))


def test_case_files_exist():
    assert len(sorted(SHARED_CASES.glob("*.yaml"))) >= 29, f"shared cases not found in {SHARED_CASES}"
    assert len(sorted(OWN_CASES.glob("*.yaml"))) >= 30


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_legal_case(path):
    case = load_case(path)
    decision = decide(case)
    assert mismatches(decision, case.expected) == []
    for route, reason in decision.not_available.items():
        assert reason and "?" not in reason, f"{route}: reason not filled in: {reason!r}"
    assert decision.status and decision.citations
