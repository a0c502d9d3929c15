"""Conformance cases in subprocesses with time limits, a few at a time, so that a hang is a reported failure.

Many cases of the suite share one program and differ only in the relation they ask for (20 LUBM cases share
100,000 facts, whose loading into pyDatalog takes seconds). So the work is done in two levels of forked
processes:

- one *program process* per distinct program: it translates, rewrites, checks and compiles the program into a
  aidkb.kb.engine.Engine (or gets its rejection, which then answers every case of that program);
- one *case process* per case, forked from its program process once the engine is loaded: it asks the relations
  the case wants and sends them back. The program process runs `workers` case processes at a time, kills one
  that has used the time limit in CPU time without answering and reports that case as a hang.

The pytest process runs at most `workers` program processes at once, and kills one that uses the time limit in
CPU time while loading, or that stops answering once loaded: its unanswered cases are reported as hangs. Limits
are CPU time (see WALL_FACTOR), so that a loaded machine makes cases slow, never "hangs". Forking costs no
interpreter start-up: the adapter, lark and pyDatalog are already imported.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from ..timing import cpu_seconds
from .adapter import REJECTIONS, SuiteRejection, load_program, query_relations

TIMEOUT = float(os.environ.get("AIDKB_CONFORMANCE_TIMEOUT", "30"))
WORKERS = int(os.environ.get("AIDKB_CONFORMANCE_WORKERS", "0")) or min(4, os.cpu_count() or 2)
GRACE = 5.0
# The time limit is CPU time, so that a busy machine never turns a slow case into a "hang": a case is a hang when
# its process has spent TIMEOUT seconds of CPU without answering. A process that spends no CPU and never answers
# is still stopped, after WALL_FACTOR times the limit in wall-clock time.
WALL_FACTOR = 10.0
POLL = 0.5


def _overrun(pid: int, started: float, now: float, timeout: float) -> bool:
    """Has this process used up its limit: `timeout` s of CPU (or, where CPU time is unknown, of wall time),
    or WALL_FACTOR times that in wall time?"""
    used = cpu_seconds(pid)
    return now - started >= timeout * WALL_FACTOR or (used >= timeout if used is not None else now - started >= timeout)


_ctx = multiprocessing.get_context("fork")


@dataclass
class Outcome:
    kind: str  # "model", "rejected", "error", "timeout", "crash"
    model: dict = field(default_factory=dict)
    error_class: str = ""
    code: str = ""
    message: str = ""
    seconds: float = 0.0


class CaseTimeout(AssertionError):
    """The case did not answer within the time limit: a hang (its process was killed)."""


class CaseCrash(AssertionError):
    """The case's process died, or raised something other than a rejection."""


def _failure(e: BaseException) -> Outcome:
    if isinstance(e, SuiteRejection):
        return Outcome("rejected", error_class=type(e).__name__, code=e.code, message=str(e))
    return Outcome("error", error_class=type(e).__name__, message=f"{e}\n{traceback.format_exc()}")


def program_key(program) -> str:
    return hashlib.sha256(repr((program.facts, program.rules)).encode()).hexdigest()


def _wanted(case) -> list[str] | None:
    return sorted(case.expect) if case.expect is not None else None


def _case_process(engine, case, conn) -> None:
    start = time.perf_counter()
    try:
        outcome = Outcome("model", model=query_relations(engine, _wanted(case)))
    except BaseException as e:  # noqa: BLE001 - reported as the case's failure
        outcome = _failure(e)
    outcome.seconds = time.perf_counter() - start
    conn.send(outcome)
    conn.close()


def _program_process(cases: list, timeout: float, workers: int, conn) -> None:
    """Load one program, then run each of its cases in a forked case process with `timeout` seconds,
    `workers` at a time."""
    start = time.perf_counter()
    try:
        engine = load_program(cases[0][1].program)
    except BaseException as e:  # noqa: BLE001 - the program's rejection (or error) answers each of its cases
        outcome = _failure(e)
        outcome.seconds = time.perf_counter() - start
        for key, _ in cases:
            conn.send((key, outcome))
        conn.close()
        return
    load_seconds = time.perf_counter() - start
    conn.send((None, load_seconds))  # loaded: the parent restarts its clock
    pending = list(cases)
    running: dict = {}  # connection -> (key, process, started)
    while pending or running:
        while pending and len(running) < max(1, workers):
            key, case = pending.pop(0)
            receive, send = _ctx.Pipe(duplex=False)
            process = _ctx.Process(target=_case_process, args=(engine, case, send))
            process.start()
            send.close()
            running[receive] = (key, process, time.monotonic())
        ready = wait(list(running), timeout=POLL)
        now = time.monotonic()
        for receive, (key, process, started) in list(running.items()):
            if receive in ready:
                try:
                    outcome = receive.recv()
                except EOFError:
                    process.join(5)
                    outcome = Outcome(
                        "crash", message=f"the case process died (exit code {process.exitcode})", seconds=now - started
                    )
            elif _overrun(process.pid, started, now, timeout):
                outcome = Outcome(
                    "timeout",
                    message=f"no answer within {timeout:g} s of CPU time (killed): a "
                    f"hang [program loaded in {load_seconds:.2f} s]",
                    seconds=now - started,
                )
            else:
                continue
            del running[receive]
            process.kill()
            process.join(5)
            receive.close()
            conn.send((key, outcome))
    conn.close()


def run_cases(cases: dict, timeout: float = TIMEOUT, workers: int = WORKERS) -> dict[str, Outcome]:
    """{key: TestCase} -> {key: Outcome}: program processes `workers` at a time, cases `timeout` s of CPU each."""
    groups: dict[str, list] = {}
    for key, case in cases.items():
        groups.setdefault(program_key(case.program), []).append((key, case))
    pending = sorted(groups.values(), key=lambda g: -sum(len(rows) for rows in g[0][1].program.facts.values()))
    running: dict = {}  # connection -> [process, cases, loaded, last message]
    results: dict[str, Outcome] = {}

    def give_up(conn, why: str) -> None:
        process, group, _, _ = running.pop(conn)
        process.kill()
        process.join(5)
        conn.close()
        for key, _case in group:
            if key not in results:
                results[key] = Outcome("timeout" if "within" in why else "crash", message=why)

    while pending or running:
        while pending and len(running) < max(1, workers):
            group = pending.pop(0)
            receive, send = _ctx.Pipe(duplex=False)
            process = _ctx.Process(target=_program_process, args=(group, timeout, workers, send))
            process.start()
            send.close()
            running[receive] = [process, group, False, time.monotonic()]
        for conn in wait(list(running), timeout=POLL):
            try:
                key, outcome = conn.recv()
            except EOFError:
                process, group, _, _ = running[conn]
                process.join(5)
                if all(k in results for k, _ in group):
                    running.pop(conn)
                    conn.close()
                else:
                    give_up(conn, f"the program process died (exit code {process.exitcode})")
                continue
            if key is not None:
                results[key] = outcome
            running[conn][2:] = [True, time.monotonic()]
        now = time.monotonic()
        for conn, (process, _group, loaded, last) in list(running.items()):
            # Loading is limited by the program process's own CPU time; once loaded, it limits its cases itself,
            # and is only given up when it stays silent for longer than any case may take.
            if not loaded and _overrun(process.pid, last, now, timeout):
                give_up(conn, f"no answer within {timeout:g} s of CPU time (killed while loading the program): a hang")
            elif loaded and now - last >= timeout * WALL_FACTOR + GRACE:
                give_up(
                    conn,
                    f"no answer within {timeout * WALL_FACTOR + GRACE:g} s (the program process stopped answering)",
                )
    return results


class ReplayEvaluator:
    """The DatalogEvaluator the suite's YamlTestRunner calls in the pytest process: it returns what the case's
    process computed, or raises what it raised (same exception class and code)."""

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
