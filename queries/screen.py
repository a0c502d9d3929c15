"""Screening a portfolio: every transaction of a CSV, Parquet or JSON Lines file decided set at a time.

The portfolio is the case contract flattened: one row per transaction, one column per case field named by its
dotted path (`id`, `as_of`, `transaction.item`, `transaction.end_user.hq_country`, ... as
`pandas.json_normalize(case, sep=".")` names them). List fields (`transaction.facts`,
`transaction.end_user.parent_chain`) are lists in Parquet and JSON Lines and JSON text in CSV; an absent or empty
column is null. CSV cells are typed like the plain scalars of a case file (queries/reader.py): true/false,
null, whole and decimal numbers exactly (`2e+26` is 2 x 10^26 exactly, `4E091` stays an ECCN), else text.

The rows are validated column-wise (validate_columns, queries/columns.py: each distinct value checked once by the
case validator's readers); a row the fast path does not accept goes through the case files' own validator
(aidkb.queries.case.parse_case on the un-flattened row), which words its error, so a bad row is reported with its row
number (1 = the first data row) and field as for a case file, and is written to the output with its error, never
dropped; `strict` stops at the first. `validate` is that per-row validator over a whole portfolio: the oracle
tests/unit/test_screen_columns.py holds the column-wise one to. Rows with `date` and `claimed_route` columns get
their running totals from the portfolio itself (queries/ledger.py). Then every row is decided set at a time by the
SQL engine (kb/sqlengine.py, DuckDB or Spark). With `reasons` (the default) each row's decision is also read off
the SQL engine's model by the same reader as `aidkb decide` (aidkb.queries.decide, aidkb.queries.explain): the
first failing condition of each route that fails, the citations and the caveats, word for word as `aidkb decide`
gives them. Without `reasons`, only the outcome columns, for the largest portfolios.

The output (CSV or Parquet, by the extension of `out_path`) has one row per transaction: id, row, error,
license_required, authorized_by, red_flags, review_policy, status, regime, uncertain, obligations, one column
`not_available.<route>` per route, citations, caveats, and the ledger's columns when it applies.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast, overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aidkb import ontology
from aidkb.kb.sqlengine import ANSWER_PREDICATES, Answers, Coded, FactColumns, SqlEngine, firsts
from aidkb.kb.syntax import Program

from .case import Case, InputError, parse_case
from .columns import (
    MISSING,
    SURE,
    Column,
    Facts,
    arrow_column,
    check,
    known,
    python_column,
    sure_text,
    text_column,
)
from .decide import ROUTES, Decision, _contested, _read, contested_listings
from .explain import Explainer
from .ledger import LEDGER_COLUMNS, Ledger, apply_ledger
from .reader import Numeral, load_json
from .reform import Reform, load_reform

Progress = Callable[[str, int, int], None]
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REASONS_CHUNK = 2_000  # rows whose full model is read back from SQL at a time for their reasons


class ScreenError(InputError):
    """A portfolio that cannot be screened (unreadable, unknown format, or a bad row under --strict)."""


@dataclass(frozen=True)
class BadRow:
    row: int  # 1 = the first data row
    id: str | None
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}{f' ({self.id})' if self.id else ''}: {self.field or 'row'}: {self.message}"


@dataclass(eq=False)
class Output(Sequence[dict]):
    """The output rows, kept column-wise (a million rows are a few dozen columns, not a million dicts); a row
    asked for is a dict of its cells."""

    columns: dict[str, Sequence | Coded]  # a cell per row, or codes into the distinct cells

    def __len__(self) -> int:
        return len(self.columns["id"])

    @overload
    def __getitem__(self, i: int) -> dict: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict]: ...

    def __getitem__(self, i: int | slice) -> dict | list[dict]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return {name: c.value(i) if isinstance(c, Coded) else c[i] for name, c in self.columns.items()}

    def __eq__(self, other: object) -> bool:
        """The same rows as another Output (or a list of row dicts)."""
        if not isinstance(other, (Output, list)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def true_count(self, name: str) -> int:
        """How many rows have a true cell in this column."""
        c = self.columns.get(name)
        if isinstance(c, Coded):
            return int(c.truth().sum())
        return sum(1 for v in c or () if v)


@dataclass
class ScreenResult:
    """What screening found: one output row per transaction (bad rows carry their error), the bad rows, and
    the ledger's breaches when the portfolio has dates and claimed routes."""

    rows: Output
    bad: list[BadRow]
    ledger: Ledger | None = None
    out_path: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def screened(self) -> int:
        return len(self.rows)


# ---- reading


def read_rows(path: Path | str) -> Iterator[tuple[int, dict]]:
    """(row number, flat row) for every data row of a portfolio file."""
    path = Path(path)
    kind = _kind(path)
    if kind == "jsonl":
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate((line for line in f if line.strip()), 1):
                row = load_json(line, f"{path}: row {n}")
                if not isinstance(row, dict):
                    raise ScreenError(str(path), f"row {n}", "a JSON Lines row must be an object")
                yield n, row
        return
    table = _table(path, kind)
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    typed = (lambda v, where: cell(v, where)) if kind == "csv" else (lambda v, where: v)
    for i in range(table.num_rows):
        yield i + 1, {name: typed(values[i], f"{path}: row {i + 1}: {name}") for name, values in columns.items()}


def _kind(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ScreenError(str(path), "", f"unknown portfolio format {path.suffix!r} (use {', '.join(FORMATS)})")
    if not path.is_file():
        raise ScreenError(str(path), "", "no such file")
    return kind


def _table(path: Path, kind: str) -> pa.Table:
    """A CSV (every cell as text) or Parquet portfolio as an Arrow table."""
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        with path.open(encoding="utf-8-sig", newline="") as f:
            names = next(csv.reader(f), [])
        return pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError) as e:
        raise ScreenError(str(path), "", f"cannot read the portfolio: {e}") from None


@dataclass(frozen=True)
class _Unreadable:
    """A CSV cell whose JSON text cannot be read (the row that holds it first stops the reading)."""

    text: str


def read_columns(path: Path | str) -> tuple[dict[str, Column], int, InputError | None]:
    """Every column of a portfolio as codes into its distinct values, typed like read_rows types them (CSV cells
    once per distinct text), the number of rows, and the error of the first unreadable cell, if any (with the
    row number: the rows before it are screened as read_rows would)."""
    path = Path(path)
    kind = _kind(path)
    if kind == "jsonl":
        rows = [row for _, row in read_rows(path)]
        names = list(dict.fromkeys(k for row in rows for k in row))
        return {n: python_column([_plain(row.get(n, MISSING)) for row in rows]) for n in names}, len(rows), None
    table = _table(path, kind)

    def typed(text: Any) -> Any:
        try:
            return _plain(cell(text, ""))
        except InputError:
            return _Unreadable(text)

    columns = {
        n: (text_column if n in SURE and pa.types.is_string(table.schema.field(n).type) else arrow_column)(
            table.column(n), typed if kind == "csv" else _plain
        )
        for n in table.column_names
    }
    first: tuple[int, int] | None = None
    for k, column in enumerate(columns.values()):
        if column.typed is not None:  # text columns: JSON text begins with [ or {
            starts = pc.utf8_slice_codeunits(column.text, 0, 1)
            where = np.flatnonzero(np.asarray(pc.is_in(starts, pa.array(["[", "{"])).to_numpy(zero_copy_only=False)))
            rows_bad = [int(i) for i in where if isinstance(column.value(int(i)), _Unreadable)]
            if rows_bad:
                first = min(first or (rows_bad[0], k), (rows_bad[0], k))
            continue
        bad = np.array([isinstance(v, _Unreadable) for v in column.values], bool)
        if bad.any():
            row = int(np.flatnonzero(bad[column.codes])[0])
            first = min(first or (row, k), (row, k))
    if first is None:
        return columns, table.num_rows, None
    row, k = first
    name = list(columns)[k]
    value = columns[name].value(row)
    try:
        cell(value.text, f"{path}: row {row + 1}: {name}")
    except InputError as e:
        return columns, row, e
    raise AssertionError("an unreadable cell read")  # pragma: no cover


_INTEGER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")
_NUMERAL = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+\Z")


def cell(text: str | None, where: str) -> Any:
    """A CSV cell typed like a plain scalar of a case file: empty and null are None, true/false, exact numbers
    (2.5e25 an exact Decimal; 2e26 a Numeral, text that number fields read exactly), [..] and {..} JSON."""
    if text is None or text == "" or text in ("null", "Null", "NULL", "~"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text[0] in "[{":
        return load_json(text, where)
    if _INTEGER.match(text):
        return int(text)
    if _DECIMAL.match(text):
        return Decimal(text)
    if _NUMERAL.match(text):
        return Numeral(text)
    return text


def unflatten(row: dict, row_number: int) -> dict:
    """A flat row (dotted column names) as the nested mapping of a case file; a mapping whose fields are all
    empty is itself empty (null). An empty column that is also the prefix of others (`transaction.model` beside
    `transaction.model.training_ops`) adds nothing."""
    nested: dict = {}
    items = [(k, v) for k, v in row.items() if k not in LEDGER_COLUMNS]
    for name, value in [(k, v) for k, v in items if v is not None] + [(k, v) for k, v in items if v is None]:
        parts = name.split(".")
        node = nested
        for i, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise InputError(f"row {row_number}", ".".join(parts[: i + 1]), "is both a value and a mapping")
        leaf, old = parts[-1], node.get(parts[-1])
        value = _plain(value)
        if value is None and leaf in node:
            continue
        if isinstance(old, dict) and isinstance(value, dict):
            node[leaf] = {**value, **old}
        elif isinstance(old, dict):
            raise InputError(f"row {row_number}", name, "is both a value and a mapping")
        else:
            node[leaf] = value
    return _collapse(nested)


def _plain(value: Any) -> Any:
    """Parquet structs come back as dicts with every field; lists of them likewise."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return _collapse({k: _plain(v) for k, v in value.items()})
    return value


def _collapse(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _collapse(v) for k, v in node.items()}
    return None if out and all(v is None for v in out.values()) else out


# ---- screening


def _reform(reform: Reform | str | Path | None) -> Reform:
    if reform is None:
        return Reform()
    return reform if isinstance(reform, Reform) else load_reform(Path(reform))


def validate(
    path: Path | str, strict: bool = False, progress: Progress | None = None
) -> tuple[list[tuple[int, dict, Case | None]], list[BadRow]]:
    """Every row un-flattened and validated by parse_case, one at a time (the oracle of validate_columns)."""
    onto = ontology.load()
    rows: list[tuple[int, dict, Case | None]] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for n, flat in read_rows(path):
        source = f"{path}: row {n}"
        try:
            case = parse_case(unflatten(flat, n), source, onto)
            if case.id in seen:
                raise InputError(source, "id", f"{case.id!r} is also the id of row {seen[case.id]}")
            seen[case.id] = n
        except InputError as e:
            if strict:
                raise ScreenError(source, e.field, e.message) from None
            bad.append(BadRow(n, flat.get("id") if isinstance(flat.get("id"), str) else None, e.field, e.message))
            rows.append((n, flat, None))
            continue
        rows.append((n, flat, case))
        if progress and n % 10_000 == 0:
            progress("validating rows", n, 0)
    return rows, bad


@dataclass
class Portfolio:
    """A portfolio validated column-wise (queries/columns.py): rows the fast path accepted carry their facts
    in columns; every other row went through the per-row validator, which gave its case or its error."""

    path: Path
    rows: int
    columns: dict[str, Column]
    ids: list  # the id cell of every row, as typed
    accepted: np.ndarray  # rows accepted by the fast path (and not duplicates)
    cases: dict[int, Case]  # row index -> case, for the declined rows the per-row validator accepted
    bad: list[BadRow]
    facts_of: Callable[[np.ndarray], Facts]

    def flat(self, i: int) -> dict:
        """Row i (0 = the first data row) as read_rows gives it."""
        out = {n: c.value(i) for n, c in self.columns.items()}
        return {n: v for n, v in out.items() if v is not MISSING}

    def good(self) -> np.ndarray:
        """The good rows' indices in order: those the fast path accepted and those the per-row validator did."""
        mask = self.accepted.copy()
        mask[list(self.cases)] = True
        return np.flatnonzero(mask)

    def case_ids(self, rows: np.ndarray) -> list:
        """The case id of each of these rows (the validated case's where the per-row validator gave one)."""
        ids, cases = self.ids, self.cases
        return [cases[i].id if i in cases else ids[i] for i in rows.tolist()]

    def case(self, i: int, onto: ontology.Ontology | None = None) -> Case:
        """The case of good row i, from the per-row validator."""
        found = self.cases.get(i)
        return found or parse_case(unflatten(self.flat(i), i + 1), f"{self.path}: row {i + 1}", onto)

    def facts(self) -> Iterator[tuple]:
        """Every good row's facts as tuples."""
        return itertools.chain(
            self.facts_of(self.accepted).tuples(), (f for c in self.cases.values() for f in c.facts())
        )


def _head(column: Column, rows: int) -> Column:
    """The column's first rows."""
    if column.text is None:
        return Column(column.codes[:rows], column.values)
    return Column(column.codes[:rows], column.values[:rows], column.text.slice(0, rows), column.typed)


def _ids(column: Column) -> list:
    """The id cell of every row, typed."""
    if column.typed is None:
        return [column.values[k] for k in column.codes.tolist()]
    ids = list(column.values)
    for i in np.flatnonzero(~sure_text(column, "id")).tolist():
        ids[i] = column.value(i)
    return ids


def validate_columns(path: Path | str, strict: bool = False) -> Portfolio:
    """Validate a portfolio column-wise, with validate()'s verdicts: the same cases, the same bad rows in the
    same words (the per-row validator words every error), the same stop under `strict`."""
    onto = ontology.load()
    path = Path(path)
    columns, rows, unreadable = read_columns(path)
    if unreadable is not None:
        columns = {n: _head(c, rows) for n, c in columns.items()}
    if all(known(n, onto) for n in columns):
        checked = check(columns, rows, onto)
        accepted, facts_of = checked.accepted, checked.facts
    else:  # columns the fast path does not know: every row through the per-row validator
        accepted, facts_of = np.zeros(rows, bool), (lambda accepted: Facts())
    ids = _ids(columns["id"]) if "id" in columns else [None] * rows
    portfolio = Portfolio(path, rows, columns, ids, accepted, {}, [], facts_of)
    problems: dict[int, BadRow] = {}
    for i in np.flatnonzero(~accepted).tolist():
        source = f"{path}: row {i + 1}"
        flat = portfolio.flat(i)
        try:
            portfolio.cases[i] = parse_case(unflatten(flat, i + 1), source, onto)
        except InputError as e:
            problems[i] = BadRow(i + 1, flat.get("id") if isinstance(flat.get("id"), str) else None, e.field, e.message)
    good = portfolio.good()
    good_ids = portfolio.case_ids(good)  # a good row's id passed the id check: text
    codes = pc.dictionary_encode(pa.array(good_ids, pa.string())).indices.to_numpy(zero_copy_only=False)
    first = good[firsts(codes)]  # per distinct id, the first good row that has it
    for k in np.flatnonzero(first[codes] != good).tolist():  # a later good row with an id seen before
        i, case_id = int(good[k]), good_ids[k]
        problems[i] = BadRow(i + 1, case_id, "id", f"{case_id!r} is also the id of row {int(first[codes[k]]) + 1}")
        accepted[i] = False
        portfolio.cases.pop(i, None)
    portfolio.bad = [problems[i] for i in sorted(problems)]
    if strict and portfolio.bad:
        b = portfolio.bad[0]
        raise ScreenError(f"{path}: row {b.row}", b.field, b.message)
    if unreadable is not None:
        raise unreadable
    return portfolio


def screen(
    portfolio_path: Path | str,
    reform: Reform | str | Path | None = None,
    engine: str = "duckdb",
    out_path: Path | str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    reasons: bool = True,
) -> ScreenResult:
    """Decide every row of a portfolio set at a time (module docstring); write the rows to `out_path`."""
    times: dict[str, float] = {}
    begin, begin_cpu = time.perf_counter(), time.process_time()
    start = begin
    portfolio = validate_columns(portfolio_path, strict)
    if progress:
        progress("validated rows", portfolio.rows, portfolio.rows)
    bad = list(portfolio.bad)
    rows: list[tuple[int, dict, Case | None]] = []
    ledger = None
    if any(c in portfolio.columns for c in LEDGER_COLUMNS):
        onto = ontology.load()
        ok = set(portfolio.good().tolist())
        rows = [(i + 1, portfolio.flat(i), portfolio.case(i, onto) if i in ok else None) for i in range(portfolio.rows)]
        ledger = apply_ledger(rows)
    for case_row, problem in ledger.bad_rows() if ledger else ():
        if strict:
            raise ScreenError(f"{portfolio_path}: row {case_row}", problem.field, problem.message)
        bad.append(problem)
    bad.sort(key=lambda b: b.row)
    bad_numbers = {b.row for b in bad}
    times["validation"], times["validation_cpu"] = time.perf_counter() - start, time.process_time() - begin_cpu
    start = time.perf_counter()
    extra = _reform(reform)
    decided: dict[str, dict] = {}
    if reasons or ledger:
        by_row = {n: c for n, _, c in rows if c is not None}
        onto = ontology.load()
        cases = []
        for i in portfolio.good().tolist():
            if i + 1 not in bad_numbers:
                found = by_row.get(i + 1) or portfolio.case(i, onto)
                cases.append(dataclasses.replace(found, what_if=found.what_if + extra.operations))
        for group in _scenarios(cases).values():
            decided.update(_decide(group, engine, reasons, progress))
    else:
        plain = [c for c in portfolio.cases.values() if not c.what_if]
        others = [
            dataclasses.replace(c, what_if=c.what_if + extra.operations) for c in portfolio.cases.values() if c.what_if
        ]
        ids = [portfolio.ids[i] for i in np.flatnonzero(portfolio.accepted).tolist()] + [c.id for c in plain]
        fast = portfolio.facts_of(portfolio.accepted)  # the facts of the rows the column-wise path accepted
        facts = (f for c in plain for f in c.facts())
        decided.update(_outcomes(facts, ids, Reform(extra.operations), engine, times, fast.columns))
        if progress:
            progress("screened rows", len(ids), len(ids))
        for group in _scenarios(others).values():
            decided.update(_decide(group, engine, False, progress))
    if ledger:
        _judge(ledger, rows, bad_numbers, extra, decided, engine)
    times["decision"] = time.perf_counter() - start
    out = _output(portfolio, bad, decided, ledger)
    result = ScreenResult(out, bad, ledger, Path(out_path) if out_path else None, times)
    if out_path:
        start = time.perf_counter()
        write(out, Path(out_path))
        times["writing"] = time.perf_counter() - start
    times["total"], times["total_cpu"] = time.perf_counter() - begin, time.process_time() - begin_cpu
    return result


def _output(portfolio: Portfolio, bad: list[BadRow], decided: dict[str, dict], ledger: Ledger | None) -> Output:
    """One output row per portfolio row, column-wise: id, row, error, the row's decided columns (shared by
    every row of a kind: each distinct set of columns is spread by position), the ledger's columns."""
    n = portfolio.rows
    ids = list(portfolio.ids)
    for i, case in portfolio.cases.items():
        ids[i] = case.id
    errors: list[str | None] = [None] * n
    found: list[dict | None] = list(map(decided.get, ids))
    nothing: dict = {}  # a bad row has no decided columns
    for b in bad:
        errors[b.row - 1], found[b.row - 1] = str(b), nothing
    if None in found:
        raise AssertionError(f"row {found.index(None) + 1} was neither decided nor reported bad")
    decisions = cast(list[dict], found)
    objects = np.fromiter(map(id, decisions), np.uint64, n)
    _, first, which = np.unique(objects, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the distinct sets of columns in the order of the rows that first have them
    outcomes = [decisions[i] for i in first[order].tolist()]
    which = np.argsort(order)[which.ravel()].astype(np.int64)
    kept = [ledger.columns(i + 1) for i in range(n)] if ledger else []
    names = dict.fromkeys(("id", "row", "error", *(decisions[0] if n else ()), *(kept[0] if kept else ())))
    for o in outcomes:
        names.update(dict.fromkeys(o))
    columns: dict[str, Sequence | Coded] = {"id": ids, "row": list(range(1, n + 1)), "error": errors}
    for name in names:
        if name in columns:
            continue
        if kept and name in kept[0]:
            columns[name] = [row[name] for row in kept]
        else:
            columns[name] = Coded([o.get(name) for o in outcomes], which)
    return Output(columns)


def _outcomes(
    facts: Iterator[tuple],
    ids: list[str],
    reform: Reform,
    backend: str,
    times: dict[str, float],
    fact_columns: FactColumns | None = None,
) -> dict[str, dict]:
    """The outcome columns of every case whose facts are given (as tuples, or column-wise), under one scenario
    (the SQL engine's own seconds into `times`, as sql_facts, sql_evaluation, ...)."""
    onto = ontology.load()
    engine = SqlEngine(reform.program(), reform.apply(onto.facts()), backend=backend)
    answers = engine.evaluate(facts, fact_columns=fact_columns)
    times.update({f"sql_{k}": v for k, v in answers.seconds.items()})
    kinds, first = answers.kinds([p for p in ANSWER_PREDICATES if p in answers.arity], ids)
    few = _Few(answers, [ids[i] for i in first.tolist()])
    columns = [outcome_columns(ids[i], few) for i in first.tolist()]
    return {case_id: columns[k] for case_id, k in zip(ids, kinds.tolist())}


class _Few:
    """The answer rows of a few cases (one of each kind), asked per case as outcome_columns asks Answers."""

    def __init__(self, answers: Answers, cases: list[str]):
        self.arity = answers.arity
        self._rows: dict[str, dict[str, set[tuple]]] = {}
        for pred in ANSWER_PREDICATES:
            if pred in answers.arity:
                few = Answers({pred: answers.table(pred, cases)}, answers.arity, {})
                by: dict[str, set[tuple]] = {}
                self._rows[pred] = by
                for row in few.rows(pred):
                    by.setdefault(row[0], set()).add(row)

    def ask(self, pred: str, args: tuple) -> list[tuple]:
        assert all(a is None for a in args[1:])  # bound on the case only, as outcome_columns asks
        return sorted(self._rows[pred].get(args[0], ()), key=repr)


def _judge(
    ledger: Ledger, rows: list, bad_numbers: set[int], extra: Reform, decided: dict[str, dict], engine: str
) -> None:
    """Decide the ledger rows again with their running totals taken as zero, and let the ledger judge."""
    good = {n: c for n, _, c in rows if c is not None and n not in bad_numbers}
    zeroed = {n: z for n, c in good.items() if (z := ledger.zeroed(n, c)) is not None}
    without: dict[str, dict] = {}
    for group in _scenarios(
        [dataclasses.replace(z, what_if=z.what_if + extra.operations) for z in zeroed.values()]
    ).values():
        without.update(_decide(group, engine, False, None))
    ledger.judge(
        {n: decided[c.id] for n, c in good.items()},
        {n: without[z.id] for n, z in zeroed.items()},
        {n: c.id for n, c in good.items()},
    )


def _scenarios(cases: list[Case]) -> dict[str, list[Case]]:
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(Reform(case.what_if).key, []).append(case)
    return groups


def _decide(cases: list[Case], backend: str, reasons: bool, progress: Progress | None) -> dict[str, dict]:
    """Output columns for cases of one scenario: outcomes set at a time, and with `reasons` the decisions."""
    onto = ontology.load()
    reform = Reform(cases[0].what_if)
    program = reform.program()
    engine = SqlEngine(program, reform.apply(onto.facts()), backend=backend)
    if not reasons:
        answers = engine.evaluate(f for c in cases for f in c.facts())
        return {c.id: outcome_columns(c.id, answers) for c in cases}
    out: dict[str, dict] = {}
    for start in range(0, len(cases), REASONS_CHUNK):
        chunk = cases[start : start + REASONS_CHUNK]
        answers = engine.evaluate((f for c in chunk for f in c.facts()), predicates=None)
        for case in chunk:
            out[case.id] = decision_columns(decision(case, answers, program, reform, onto))
        if progress:
            progress("screened rows", start + len(chunk), len(cases))
    return out


def decision(case: Case, answers: Answers, program: Program, reform: Reform, onto: ontology.Ontology) -> Decision:
    """The case's decision, read off the SQL engine's model exactly as aidkb.queries.decide.decide reads it off
    pyDatalog (contested listings are decided again without the listing, as decide does)."""
    from aidkb.kb.program import baseline_program

    found = _read(case, Explainer(answers, program, onto), onto, reform, program)
    found.caveats += [_contested(case, m, baseline_program(), found, onto) for m in contested_listings(case, onto)]
    return found


def decision_columns(d: Decision) -> dict:
    return {
        "license_required": d.license_required,
        "authorized_by": list(d.authorized_by),
        "red_flags": list(d.red_flags),
        "review_policy": d.review_policy,
        "status": d.status,
        "regime": d.regime,
        "uncertain": sorted(d.uncertain),
        "obligations": list(d.obligations),
        **{f"not_available.{route}": d.not_available.get(route) for route in ROUTES},
        "citations": list(d.citations),
        "caveats": list(d.caveats),
    }


def outcome_columns(case_id: str, answers: Answers | _Few) -> dict:
    """The outcome columns of one case from the answer predicates alone (no reasons)."""
    got = {
        pred: answers.ask(pred, (case_id,) + (None,) * (answers.arity[pred] - 1)) if pred in answers.arity else []
        for pred in ANSWER_PREDICATES
    }
    routes = {r[1] for r in got["authorized"]}
    return {
        "license_required": bool(got["license_required"]),
        "authorized_by": [r for r in ROUTES if r in routes] + sorted(routes - set(ROUTES)),
        "red_flags": sorted({r[1] for r in got["red_flag"]}),
        "review_policy": "; ".join(dict.fromkeys(r[1] for r in got["review"])) or None,
        "status": "; ".join(r[1] for r in got["status"]) or None,
        "regime": "; ".join(r[1] for r in got["regime"]) or None,
        "uncertain": sorted({r[1] for r in got["uncertain_route"]}),
        "obligations": sorted({r[1] for r in got["obligation"]}),
    }


# ---- writing


def write(rows: Sequence[dict], path: Path | BinaryIO, kind: str | None = None) -> None:
    """The rows (dicts, or an Output's columns) as CSV (lists as JSON text) or Parquet (lists as lists), by the
    file's extension, or to an open binary stream in the given kind."""
    if kind is None:
        assert isinstance(path, Path)
        kind = FORMATS.get(path.suffix.lower())
    if kind not in ("csv", "parquet"):
        raise ScreenError(str(path), "", "the output is written as .csv or .parquet")
    columns: dict[str, Sequence | Coded]
    if isinstance(rows, Output):
        columns = rows.columns
    else:
        names = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
        columns = {n: list(map(dict.get, rows, itertools.repeat(n))) for n in names}
    convert = _texts if kind == "csv" else _array

    def array(values: Sequence | Coded) -> pa.Array:
        if isinstance(values, Coded):  # each distinct cell converted once, then spread by Arrow
            return convert(list(values.values)).take(pa.array(values.codes))
        return convert(list(values))

    table = pa.table({n: array(v) for n, v in columns.items()})
    if kind == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v).lower() if isinstance(v, bool) else str(v)


def _texts(values: list) -> pa.Array:
    """A column's cells as CSV text: text, booleans and whole numbers converted by Arrow, anything else once per
    object (a list shared by many rows is written once)."""
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= {str}:
        return pa.array(values, pa.string())
    if kinds == {bool}:
        return pc.cast(pa.array(values, pa.bool_()), pa.string())
    if kinds == {int} and all(v is None or -(2**63) <= v < 2**63 for v in values):
        return pc.cast(pa.array(values, pa.int64()), pa.string())
    # each object once (outcome lists are shared by every row of a kind), then spread by Arrow
    objects = np.fromiter(map(id, values), np.uint64, len(values))
    _, first, where = np.unique(objects, return_index=True, return_inverse=True)
    return pa.array([_text(values[i]) for i in first.tolist()], pa.string()).take(pa.array(where.ravel()))


def _array(values: list) -> pa.Array:
    if any(isinstance(v, list) for v in values):
        return pa.array([[str(x) for x in v] if v is not None else None for v in values], pa.list_(pa.string()))
    if all(v is None or isinstance(v, bool) for v in values):
        return pa.array(values, pa.bool_())
    if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
        return pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 0))
    return pa.array([None if v is None else str(v) for v in values], pa.string())


# ---- one row, for `aidkb explain PORTFOLIO --row ID`


def case_for_row(portfolio_path: Path | str, row_id: str) -> Case:
    """The validated case of the row with this id (or this row number), with the running totals the ledger
    computes for it: the case `aidkb explain` proves through the proof engine."""
    portfolio = validate_columns(portfolio_path)
    good = set(portfolio.good().tolist())
    onto = ontology.load()
    if any(c in portfolio.columns for c in LEDGER_COLUMNS):
        rows = [
            (i + 1, portfolio.flat(i), portfolio.case(i, onto) if i in good else None) for i in range(portfolio.rows)
        ]
        apply_ledger(rows)
        cases = {n - 1: c for n, _, c in rows if c is not None}
    else:
        cases = {}
    for i in range(portfolio.rows):
        case_id = portfolio.cases[i].id if i in portfolio.cases else portfolio.ids[i]
        if (i in good and case_id == row_id) or str(i + 1) == str(row_id):
            if i not in good:
                problem = next(b for b in portfolio.bad if b.row == i + 1)
                raise ScreenError(f"{portfolio_path}: row {i + 1}", problem.field, problem.message)
            return cases.get(i) or portfolio.case(i, onto)
    raise ScreenError(str(portfolio_path), "id", f"no row with id {row_id!r}")
