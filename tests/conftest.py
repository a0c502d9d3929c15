"""Shared fixtures and the counting of legal cases (the run says how many passed)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The team's worked cases (../shared/cases), vendored so that a plain clone tests the same; test_vendored_cases
# checks the copy against ../shared/cases wherever that folder is present.
SHARED_CASES = ROOT / "tests" / "shared_cases"
UPSTREAM_CASES = ROOT.parent / "shared" / "cases"
OWN_CASES = ROOT / "tests" / "cases"

_legal = {"passed": 0, "failed": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" and "::test_legal_case[" in report.nodeid:
        _legal["passed" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter):
    if _legal["passed"] or _legal["failed"]:
        terminalreporter.write_line(f"legal cases (shared/cases and tests/cases): {_legal['passed']} passed, "
                                    f"{_legal['failed']} failed")


@pytest.fixture(scope="session")
def onto():
    import ontology

    return ontology.load()


@pytest.fixture(scope="session")
def program():
    from kb.program import baseline_program

    return baseline_program()


# The fast lane (`pytest -m "not slow"`) leaves out whole suites that take minutes: the browser and AppTests,
# the conformance suite, golden files, the tamper bar, the three-engine and Spark comparisons, fuzzing and
# HermiT. Single slow tests elsewhere carry @pytest.mark.slow themselves.
SLOW_SUITES = ("tests/app/", "tests/api/", "tests/conformance/", "tests/test_golden.py", "tests/test_legal_cases.py",
               "tests/unit/test_tamper.py", "tests/unit/test_sql_engine.py", "tests/unit/test_fuzz.py",
               "tests/unit/test_ontology.py", "tests/unit/test_screen.py", "tests/unit/test_ledger.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        where = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        if where.startswith(SLOW_SUITES):
            item.add_marker(pytest.mark.slow)
