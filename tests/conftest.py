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
        terminalreporter.write_line(
            f"legal cases (shared/cases and tests/cases): {_legal['passed']} passed, {_legal['failed']} failed"
        )


@pytest.fixture(scope="session")
def onto():
    from aidkb import ontology

    return ontology.load()


@pytest.fixture(scope="session")
def program():
    from aidkb.kb.program import baseline_program

    return baseline_program()


# The fast lane (`pytest -m "not slow"`, under a minute) leaves out whole suites that take minutes: the browser
# and AppTests, the API, the conformance suite, golden files, the tamper bar, the three-engine and Spark
# comparisons, fuzzing and HermiT; and, by node id, the sweeps over every bundled case and the single tests that
# take seconds (subprocess runs of the command, spawned workers, budgets). Each entry is a path or node-id prefix;
# all of them run in the full suite. Other slow tests carry @pytest.mark.slow themselves.
SLOW_SUITES = (
    "tests/app/",
    "tests/api/",
    "tests/conformance/",
    "tests/test_golden.py",
    "tests/test_legal_cases.py",
    "tests/unit/test_tamper.py",
    "tests/unit/test_sql_engine.py",
    "tests/unit/test_fuzz.py",
    "tests/unit/test_ontology.py",
    "tests/unit/test_screen.py",
    "tests/unit/test_ledger.py",
    "tests/unit/test_deadline.py",
    "tests/unit/test_proofs.py::test_every_proof_is_valid[",
    "tests/unit/test_proofs.py::test_counterfactual_pair_with_the_largest_quantity_is_found",
    "tests/unit/test_bottomup.py::test_engines_agree[",
    "tests/unit/test_cli.py::test_output_cut_short_by_its_reader_ends_quietly",
    "tests/unit/test_cli.py::test_decide_is_deterministic",
    "tests/unit/test_cli.py::test_screen_",
    "tests/unit/test_cli.py::test_aidkb_test_counts_and_fails",
    "tests/unit/test_cli.py::test_explain_a_portfolio_row",
    "tests/unit/test_cli.py::test_check_proof_checks_the_answer_fields_of_a_decision",
    "tests/unit/test_inputs.py::test_a_rule_that_counts_without_bound_is_stopped_by_the_budget",
    "tests/unit/test_reforms.py::test_raising_a_limit_never_makes_an_eligible_case_ineligible",
    "tests/unit/test_reforms.py::test_impact_over_cases_lists_flips_with_causes",
    "tests/unit/test_reforms.py::test_two_threads_with_different_reforms_get_their_own_answers",
    "tests/unit/test_packaging.py::test_every_module_loads_under_aidkb_only",
)


def _skips_slow(config) -> bool:
    """The -m expression leaves out every test marked slow, whatever its other marks (as "not slow" does)."""
    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return False
    from _pytest.mark.expression import Expression

    expression = Expression.compile(markexpr)
    return not any(
        expression.evaluate(lambda name, others=others, **_: name == "slow" or others) for others in (False, True)
    )


def pytest_ignore_collect(collection_path, config):
    """In the fast lane, whole slow suites are not even imported (collecting them took most of its time)."""
    if _skips_slow(config):
        where = collection_path.resolve()
        if where.is_relative_to(ROOT):
            where_text = where.relative_to(ROOT).as_posix() + ("/" if where.is_dir() else "")
            if where_text.startswith(tuple(s for s in SLOW_SUITES if "::" not in s)):
                return True
    return None


def pytest_collection_modifyitems(config, items):
    matched = set()
    for item in items:
        where = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        node = where + item.nodeid[item.nodeid.index("::") :] if "::" in item.nodeid else where
        hits = [s for s in SLOW_SUITES if node.startswith(s)]
        if hits:
            item.add_marker(pytest.mark.slow)
            matched.update(hits)
    # a node id that names no test any more (renamed) would silently put a slow test back in the fast lane
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.getoption("keyword"):
        stale = [s for s in SLOW_SUITES if "::" in s and s not in matched]
        if stale:
            raise pytest.UsageError(f"tests/conftest.py SLOW_SUITES names no test: {', '.join(stale)}")
