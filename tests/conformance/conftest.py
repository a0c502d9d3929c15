"""pytest wiring of the datalog-conformance suite (issue 7).

- registers the `conformance` marker (`pytest -m conformance` runs the suite alone) and puts it on every case;
- deselects the defeasible theories and the KLM case (stated in known_failures.yaml's header, and counted in
  the summary line);
- marks the cases listed in known_failures.yaml xfail(strict=True) with their reason;
- overrides the plugin's `runner` fixture (which otherwise wants --datalog-evaluator): the first conformance
  test runs every selected case in subprocesses with a time limit (runner.run_cases), and each test replays
  its case's outcome through the suite's own YamlTestRunner;
- speeds up the plugin's case discovery, which parses 40 MB of YAML with PyYAML's pure-Python loader (over a
  minute): the same discovery runs with libyaml's CSafeLoader (same result, checked: the cases compare equal)
  and its result is pickled in pytest's cache directory, keyed by the package version and the YAML files'
  names, sizes and mtimes (a warm run loads it in about a second);
- prints `datalog-conformance: N passed, N failed, N xfailed (known failures), N deselected (defeasible)` and
  the wall time of the subprocess run.
"""

from __future__ import annotations

import hashlib
import pickle
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES = HERE / "known_failures.yaml"
_key = pytest.StashKey[dict]()


def pytest_configure(config):
    _speed_up_discovery(config)
    config.addinivalue_line(
        "markers",
        "conformance: the public datalog-conformance suite through the project's rule pipeline (tests/conformance)",
    )
    config.stash[_key] = {
        "cases": {},
        "outcomes": None,
        "seconds": 0.0,
        "deselected": 0,
        "counts": {"passed": 0, "failed": 0, "xfailed": 0, "xpassed": 0},
    }


def _speed_up_discovery(config) -> None:
    try:
        import datalog_conformance
        from datalog_conformance import plugin
    except ImportError:  # pragma: no cover - the suite is not installed: nothing to collect
        return
    if getattr(plugin.discover_yaml_tests, "aidkb_cached", False):
        return
    original = plugin.discover_yaml_tests
    cache_dir = config.cache.mkdir("datalog-conformance") if getattr(config, "cache", None) else None

    def discover_yaml_tests(test_dir=None):
        root = Path(test_dir or plugin.get_tests_dir())
        files = sorted(root.rglob("*.yaml"))
        stamp = hashlib.sha256(
            repr(
                (
                    getattr(datalog_conformance, "__version__", ""),
                    str(root),
                    [(str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns) for f in files],
                )
            ).encode()
        ).hexdigest()[:20]
        cached = cache_dir / f"cases-{stamp}.pickle" if cache_dir else None
        if cached is not None and cached.exists():
            try:
                return pickle.loads(cached.read_bytes())
            except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
                pass
        loader = getattr(plugin.yaml, "CSafeLoader", None)
        real_yaml = plugin.yaml
        if loader is not None:
            plugin.yaml = SimpleNamespace(safe_load=lambda text: real_yaml.load(text, Loader=loader))
        try:
            cases = original(test_dir)
        finally:
            plugin.yaml = real_yaml
        if cached is not None:
            for old in cache_dir.glob("cases-*.pickle"):
                old.unlink()
            cached.write_bytes(pickle.dumps(cases, protocol=pickle.HIGHEST_PROTOCOL))
        return cases

    discover_yaml_tests.aidkb_cached = True
    plugin.discover_yaml_tests = discover_yaml_tests


def known_failures() -> dict[str, str]:
    """case name -> reason (its kind and reason in known_failures.yaml)."""
    data = yaml.safe_load(KNOWN_FAILURES.read_text(encoding="utf-8")) or {}
    reasons = {}
    for entry in data.get("known_failures", []):
        for name in entry["cases"]:
            reasons[name] = f"{entry['kind']}: {' '.join(entry['reason'].split())}"
    return reasons


def _case(item):
    callspec = getattr(item, "callspec", None)
    if callspec is None or "yaml_test_case" not in callspec.params:
        return None
    return callspec.params["yaml_test_case"][1]


def pytest_collection_modifyitems(config, items):
    state = config.stash[_key]
    reasons = known_failures()
    keep, deselected = [], []
    for item in items:
        case = _case(item) if HERE in Path(str(item.fspath)).resolve().parents else None
        if case is None:
            keep.append(item)
            continue
        if case.program is None:  # a defeasible theory or a KLM property: not run (known_failures.yaml header)
            deselected.append(item)
            continue
        item.add_marker(pytest.mark.conformance)
        if case.name in reasons:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reasons[case.name]))
        keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep
    state["deselected"] = len(deselected)
    state["cases"] = {_case(item).name: _case(item) for item in keep if _case(item) is not None}


@pytest.fixture
def runner(request, yaml_test_case):
    """The suite's YamlTestRunner over what the case's subprocess computed (all cases run on first use)."""
    from datalog_conformance import YamlTestRunner

    from .runner import ReplayEvaluator, run_cases

    state = request.config.stash[_key]
    if state["outcomes"] is None:
        start = time.monotonic()
        state["outcomes"] = run_cases(state["cases"])
        state["seconds"] = time.monotonic() - start
    _path, case = yaml_test_case
    return YamlTestRunner(ReplayEvaluator(state["outcomes"][case.name]))


def pytest_runtest_logreport(report):
    if "test_conformance.py::test_conformance[" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        counts = _counts
        if hasattr(report, "wasxfail"):
            counts["xpassed" if report.passed else "xfailed"] += 1
        elif report.passed:
            counts["passed"] += 1
        elif not report.skipped:
            counts["failed"] += 1


_counts = {"passed": 0, "failed": 0, "xfailed": 0, "xpassed": 0}


def pytest_terminal_summary(terminalreporter, config):
    state = config.stash.get(_key, None)
    if state is None or not state["cases"] or not any(_counts.values()):
        return
    c = _counts
    line = f"datalog-conformance: {c['passed']} passed, {c['failed']} failed, {c['xfailed']} xfailed (known failures)"
    if c["xpassed"]:
        line += f", {c['xpassed']} xpassed (strict: failures)"
    line += f", {state['deselected']} deselected (defeasible, not run)"
    if state["outcomes"] is not None:
        line += f"; {len(state['outcomes'])} cases evaluated in subprocesses in {state['seconds']:.1f} s"
    terminalreporter.write_line(line)
