"""Every worked case in tests/shared_cases (the vendored ../shared/cases) and tests/cases, run as a legal test:
the decision must match the case's expected outcome (licence, routes, red flags, unavailable routes, citations)."""

from __future__ import annotations

import pytest

from aidkb.queries.case import load_case
from aidkb.queries.decide import decide
from aidkb.queries.expectations import mismatches

from .conftest import OWN_CASES, SHARED_CASES, UPSTREAM_CASES

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


def test_vendored_cases_match_upstream():
    """tests/shared_cases is a copy of the team's ../shared/cases: where that folder exists, the copy is the same."""
    if not UPSTREAM_CASES.is_dir():
        pytest.skip(f"{UPSTREAM_CASES} is not on this machine: the vendored copy in {SHARED_CASES} is used as is")
    upstream = {p.name: p.read_bytes() for p in UPSTREAM_CASES.iterdir() if p.is_file()}
    vendored = {p.name: p.read_bytes() for p in SHARED_CASES.iterdir() if p.is_file()}
    assert sorted(upstream) == sorted(vendored), "copy ../shared/cases into tests/shared_cases again"
    assert [n for n in upstream if upstream[n] != vendored[n]] == [], (
        "copy ../shared/cases into tests/shared_cases again"
    )
