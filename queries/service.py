"""One facade over the knowledge base for every face (command line, HTTP API, explorer, scripts).

Thin functions over queries/* and the ontology: they take input in the case-file and reform-file contracts (a
mapping, as a file or an HTTP body holds it) or the validated objects, and return what the other faces
return. No legal logic lives here. Errors are `aidkb.kb.errors.AidkbError` subclasses, each with its HTTP status, so
that a face maps them in one place; `Pool` runs engine work in deadline workers (kb/deadline.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from aidkb import ontology
from aidkb.kb.deadline import Worker
from aidkb.kb.errors import AidkbError, InputError

from . import formats
from .case import EARLIEST, LATEST, Case, CaseError, parse_case
from .reform import Reform, ReformError, parse_reform

FORMATS = tuple(formats.FORMATS)
MEDIA_TYPES = {name: f.media_type for name, f in formats.FORMATS.items()}
SCHEMAS = Path(__file__).resolve().parent / "schemas"


# ---- errors a face reports (each with its HTTP status; exit status 2 on the command line). An engine that
# overruns or dies raises aidkb.kb.deadline's own DeadlineExceeded (504), WorkerFailed and MemoryLimitExceeded (503).


class RequestError(InputError):
    """A request that is not a question: an unknown goal or format, a bad date, a document that is not a proof."""


class PayloadTooLarge(AidkbError):
    http_status = 413


class NotFound(AidkbError):
    http_status = 404


class Busy(AidkbError):
    """Every worker stayed busy for the whole wait: try again later."""

    http_status = 503


# ---- inputs


def case_of(value: Case | Any, source: str = "<request>") -> Case:
    """A validated Case from a Case or a case mapping (the case-file contract; CaseError/ReformError name the
    field)."""
    return value if isinstance(value, Case) else parse_case(value, source, ontology.load())


def reform_of(value: Reform | Any, source: str = "<request>") -> Reform:
    """A validated Reform from a Reform or a reform mapping (the reform-file contract)."""
    return value if isinstance(value, Reform) else parse_reform(value, source, ontology.load())


def date_of(value: dt.date | str | None, source: str = "<request>", field: str = "as_of") -> dt.date:
    """A date given as a date or YYYY-MM-DD, within the dates the tool answers for (today when None)."""
    if value is None:
        return dt.date.today()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise RequestError(source, field, f"{value!r} is not a date of the calendar") from None
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise RequestError(source, field, "must be a date YYYY-MM-DD")
    if not EARLIEST <= value <= LATEST:
        raise RequestError(source, field, f"{value} is outside {EARLIEST}..{LATEST}")
    return value


def check_goal(case: Case, goal: str | None, source: str = "<request>", field: str = "goal") -> None:
    from .explanation import GoalError, goal_atom

    if goal is None:
        return
    if not isinstance(goal, str):
        raise RequestError(source, field, "must be a string: license_required, a route id or a red flag id")
    try:
        goal_atom(case, goal, ontology.load())
    except GoalError as e:
        raise RequestError(source, field, str(e)) from None


def check_format(fmt: Any, source: str = "<request>", field: str = "format") -> str:
    if fmt not in FORMATS:
        raise RequestError(source, field, f"must be one of: {', '.join(FORMATS)}")
    return fmt


# ---- questions (engine work: run them in a worker, see Pool)


def decide(case: Case | Any, program=None):
    """The Decision of `aidkb decide` for one case (its what_if applied in its own scenario)."""
    from .decide import decide as _decide

    return _decide(case_of(case), program)


def decide_json(case: Case | Any) -> dict:
    """What `aidkb decide --json` prints for one case, as JSON data."""
    return _json(decide(case).to_json())


def explain(case: Case | Any, goal: str | None = None, format: str = "text") -> str | dict:
    """What `aidkb explain --goal GOAL --format FORMAT` prints: the proof.v2 document (format json) or text."""
    from .explanation import explain as _explain

    case = case_of(case)
    check_format(format)
    check_goal(case, goal)
    out = formats.render(_explain(case, goal, formats.FORMATS[format].counterfactuals), format)
    return _json(out) if format == "json" else out


def check_proof(doc: Any, source: str = "<request>") -> dict:
    """`aidkb check-proof`: a proof.v2 (or v1) document, or a decision (`decide --json`) whose answer fields are checked
    against its proof too. {valid, steps, error, reform, verdict}; a malformed document is invalid, its error
    beginning with the path (aidkb.queries.checker never raises). Run it in a deadline worker (Pool): a proof that
    carries rules of its own may take long."""
    from .checker import check_proof as _check

    result = _check(doc)
    return {
        "valid": result.valid,
        "steps": result.steps,
        "error": result.error,
        "reform": list(result.reform),
        "verdict": result.verdict(),
    }


def impact(
    reform: Reform | Any,
    cases: list[Case | Any] | None = None,
    grid: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """`aidkb impact --json`: baseline against the reform over the cases and/or the grid."""
    from .impact import impact as _impact

    cases = [case_of(c, f"cases[{i}]") for i, c in enumerate(cases or [])]
    return _json(_impact(reform_of(reform), cases or None, grid, progress=progress).to_json())


def tiers(as_of: dt.date | str | None = None) -> dict[str, int]:
    """Each country's tier (1, 2 or 3) on a date, as the baseline tier rules say."""
    from .impact import tier_of_countries

    return dict(sorted(tier_of_countries(Reform(), date_of(as_of)).items()))


def warm() -> str:
    """Load the ontology, the rules and the baseline engine (a worker's first question pays for it here)."""
    decide(WARM_CASE, None)
    return "ready"


WARM_CASE = {
    "id": "warm-up",
    "as_of": "2025-06-01",
    "mode": "as_published",
    "transaction": {
        "kind": "export",
        "item": "3A090.a",
        "quantity": 1,
        "tpp_per_unit": 15832,
        "destination_country": "FR",
        "end_user": {"hq_country": "FR", "ultimate_parent_hq_country": "FR", "end_use": "datacenter"},
    },
}


# ---- reference data (no engine)


@lru_cache(maxsize=1)
def rules() -> tuple[dict, ...]:
    """Every rule of the embedded rule set: id, file, citations, sentence, grade, note and rule text."""
    from aidkb.kb.program import baseline_program

    program = baseline_program()
    return tuple(
        {
            "id": r.id,
            "file": r.file,
            "head": f"{r.head.pred}/{len(r.head.args)}",
            "citations": list(r.cites),
            "says": r.says,
            "grade": r.grade,
            "note": r.note,
            "text": r.text(),
        }
        for r in program.rules
    )


def ruleset_version() -> str:
    from aidkb.kb.program import baseline_program

    return baseline_program().version


@lru_cache(maxsize=1)
def provisions() -> tuple[dict, ...]:
    """Every provision of the ontology: id (the IRI's local name), citation, title, URL, grade, IRI, its words
    where read, and their source."""
    return tuple({"id": p.iri.rsplit("#", 1)[-1], **asdict(p)} for p in ontology.load().provisions.values())


@lru_cache(maxsize=1)
def countries() -> tuple[dict, ...]:
    """Every country: code, name and its dated group listings (dates YYYY-MM-DD; valid_to null: open)."""
    onto = ontology.load()
    listings: dict[str, list[dict]] = {}
    for m in onto.memberships:
        listings.setdefault(m.code, []).append(
            {
                "group": m.group,
                "valid_from": _iso(m.valid_from),
                "valid_to": _iso(m.valid_to),
                "grade": m.grade,
                "citation": m.citation,
                "note": m.note,
            }
        )
    return tuple(
        {"code": code, "name": name, "listings": listings.get(code, [])}
        for code, name in sorted(onto.countries.items())
    )


def _iso(number: int) -> str | None:
    if number >= ontology.OPEN_END:
        return None
    text = f"{number:08d}"
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


# ---- helpers


def _json(data: Any) -> Any:
    """JSON data exactly as the command line prints it (Decimals as numbers, tuples as lists)."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=_plain))


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, set, frozenset)):
        return value.isoformat() if isinstance(value, dt.date) else sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


# ---- deadline workers

POOL_SIZE = int(os.environ.get("AIDKB_API_WORKERS", "2"))
DEADLINE = float(os.environ.get("AIDKB_API_DEADLINE", "30"))


class Pool:
    """A few deadline workers (kb/deadline.py) shared by the threads of a server: each call takes an idle
    worker (waiting at most `wait` seconds, else Busy), runs there with the budget, and gives it back. A worker
    that overruns is killed (DeadlineExceeded) and restarts on its next call; one that dies (WorkerFailed) is
    restarted too."""

    def __init__(self, size: int = POOL_SIZE, seconds: float = DEADLINE, wait: float | None = None):
        self.size, self.seconds = max(1, size), seconds
        self.wait = seconds if wait is None else wait
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        for _ in range(self.size):
            self._idle.put(Worker(seconds))
        self._all = list(self._idle.queue)

    def call(self, fn, *args, progress=None, seconds: float | None = None):
        try:
            worker = self._idle.get(timeout=self.wait)
        except queue.Empty:
            raise Busy(f"every engine worker stayed busy for {self.wait:g} s: try again later") from None
        try:
            return worker.call(fn, *args, progress=progress, seconds=seconds)
        finally:
            self._idle.put(worker)

    def warm(self) -> None:
        """Start every worker and load the engines, in parallel, from threads (so workers are spawned, never
        forked from a threaded server)."""
        threads = [threading.Thread(target=self._warm_one, daemon=True) for _ in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _warm_one(self) -> None:
        try:
            self.call(warm, seconds=max(self.seconds, 120))
        except AidkbError:
            pass

    def close(self) -> None:
        for worker in self._all:
            worker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Busy",
    "CaseError",
    "NotFound",
    "PayloadTooLarge",
    "Pool",
    "ReformError",
    "RequestError",
    "at",
    "case_of",
    "check_format",
    "check_goal",
    "check_proof",
    "countries",
    "date_of",
    "decide",
    "decide_each",
    "decide_json",
    "explain",
    "impact",
    "provisions",
    "reform_of",
    "rules",
    "ruleset_version",
    "tiers",
    "warm",
]


# ---- where in a request a bad field is


class at:
    """Context manager: an InputError raised inside names its field from the request body's root, prefixed
    with `prefix` (`case`, `[3]`, `reform`, `cases[0]`)."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if isinstance(error, InputError) and self.prefix:
            field = error.field
            joined = self.prefix + ("" if not field else (field if field.startswith("[") else "." + field))
            raise type(error)(error.source, joined, error.message) from None


def decide_each(cases: list[Case]) -> list[dict]:
    """decide_json for a batch, each error naming the case's index in the batch."""
    out = []
    for i, case in enumerate(cases):
        with at(f"[{i}]"):
            out.append(decide_json(case))
    return out
