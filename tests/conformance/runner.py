"""Each conformance case in a subprocess of its own, with a time limit, a few at a time.

A case runs in a forked child process (the adapter and pyDatalog are already imported, so a case costs no
interpreter start-up) that evaluates the program with the project pipeline and sends back an Outcome. A child
that has not answered within the time limit is killed and its case reported as a hang; a child that dies is
reported with its exit code. At most `workers` children run at once (default: the number of CPUs).
"""
from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from .adapter import REJECTIONS, SuiteRejection, evaluate_program

TIMEOUT = float(os.environ.get("AIDKB_CONFORMANCE_TIMEOUT", "20"))
WORKERS = int(os.environ.get("AIDKB_CONFORMANCE_WORKERS", "0")) or (os.cpu_count() or 2)


@dataclass
class Outcome:
    kind: str  # "model", "rejected", "error", "timeout", "crash"
    model: dict = field(default_factory=dict)
    error_class: str = ""
    code: str = ""
    message: str = ""
    seconds: float = 0.0


class CaseTimeout(AssertionError):
    """The case did not answer within the time limit: a hang (the child was killed)."""


class CaseCrash(AssertionError):
    """The child process died or raised something other than a rejection."""


def evaluate_case(case) -> Outcome:
    """In the child: the relations the case asks for, or the rejection."""
    wanted = sorted(case.expect) if case.expect is not None else None
    try:
        return Outcome("model", model=evaluate_program(case.program, wanted))
    except SuiteRejection as e:
        return Outcome("rejected", error_class=type(e).__name__, code=e.code, message=str(e))
    except Exception as e:  # noqa: BLE001 - reported as the case's failure
        return Outcome("error", error_class=type(e).__name__, message=f"{e}\n{traceback.format_exc()}")


def _child(case, conn) -> None:
    start = time.perf_counter()
    outcome = evaluate_case(case)
    outcome.seconds = time.perf_counter() - start
    conn.send(outcome)
    conn.close()


def run_cases(cases: dict, timeout: float = TIMEOUT, workers: int = WORKERS) -> dict[str, Outcome]:
    """{key: TestCase} -> {key: Outcome}, each case in its own child process with `timeout` seconds."""
    ctx = multiprocessing.get_context("fork")
    pending = list(cases.items())
    running: dict = {}  # connection -> (key, process, started)
    results: dict[str, Outcome] = {}
    while pending or running:
        while pending and len(running) < max(1, workers):
            key, case = pending.pop(0)
            parent, child = ctx.Pipe(duplex=False)
            process = ctx.Process(target=_child, args=(case, child), daemon=True)
            process.start()
            child.close()
            running[parent] = (key, process, time.monotonic())
        now = time.monotonic()
        deadline = min(started + timeout for _, _, started in running.values())
        for conn in wait(list(running), timeout=max(0.0, deadline - now)):
            key, process, started = running.pop(conn)
            try:
                results[key] = conn.recv()
            except EOFError:
                process.join(5)
                results[key] = Outcome("crash", message=f"the child process died (exit code {process.exitcode})",
                                       seconds=time.monotonic() - started)
            conn.close()
            process.join(5)
        now = time.monotonic()
        for conn, (key, process, started) in list(running.items()):
            if now - started >= timeout:
                process.kill()
                process.join(5)
                conn.close()
                del running[conn]
                results[key] = Outcome("timeout", message=f"no answer within {timeout:g} s (killed): a hang",
                                       seconds=now - started)
    return results


class ReplayEvaluator:
    """The DatalogEvaluator the suite's YamlTestRunner calls in the pytest process: it returns what the case's
    child process computed, or raises what the child raised (same exception class and code)."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome

    def evaluate(self, program):
        o = self.outcome
        if o.kind == "model":
            return o.model
        if o.kind == "rejected":
            raise REJECTIONS.get(o.error_class, SuiteRejection)(o.message, o.code)
        if o.kind == "timeout":
            raise CaseTimeout(o.message)
        raise CaseCrash(f"{o.error_class}: {o.message}" if o.error_class else o.message)
