"""The set-at-a-time engine: the checked Program compiled to SQL (kb/sql/compile.py) and run on DuckDB
(embedded, the default) or Apache Spark (local mode, or the cluster that AIDKB_SPARK_MASTER names).

Many cases are decided in one run: their input facts are loaded as tables beside the base facts, every relation
is computed once for all of them, stratum by stratum (recursive strata by semi-naive iteration), and the rows of
the asked predicates come back per predicate. Numbers are exact whole numbers end to end (DECIMAL(38, 0) in
both; an overflow is an error, never a wrong answer); strings are compared exactly.

    engine = SqlEngine(program, reform.apply(ontology.load().facts()))
    answers = engine.evaluate(case_facts)            # or facts of many cases at once
    answers.rows("authorized")                       # {("case-1", "LPP"), ...}
"""

from __future__ import annotations

import gc
import itertools
import os
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache, reduce
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from .sql.compile import (
    UNIT,
    RuleCompiler,
    SqlCompileError,
    Stratum,
    check_types_exact,
    column_names,
    strata,
)
from .sql.partition import MAP, abstract, partition, reps_pred
from .sql.store import MAX_INPUT_ROWS, ResultStore, code_version, evaluation_key, table_digest
from .sql.types import KEY, NUMBER, TEXT, SqlTypeError, Types, value_type
from .syntax import Const, Negative, Positive, Program, Rule

ANSWER_PREDICATES = (
    "license_required",
    "authorized",
    "red_flag",
    "review",
    "uncertain_route",
    "obligation",
    "status",
    "regime",
)
MAX_ITERATIONS = 100_000  # a recursive stratum that has not reached its fixpoint by then does not terminate
SPARK_MASTER = os.environ.get("AIDKB_SPARK_MASTER", "local[2]")
_MAX_EXACT = 10**38 - 1

__all__ = [
    "ANSWER_PREDICATES",
    "Answers",
    "Coded",
    "FactColumns",
    "SqlCompileError",
    "SqlEngine",
    "SqlEngineError",
    "SqlTypeError",
    "spark_session",
]


class SqlEngineError(Exception):
    """The SQL engine was given facts it cannot hold exactly, or a program that does not terminate."""


# ---- facts as Arrow tables


@dataclass(frozen=True)
class Coded:
    """A column given as distinct values and each row's index into them (a portfolio's columns come so:
    queries/columns.py): only the values some row uses are converted, each once."""

    values: Sequence[Any] | np.ndarray
    codes: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows: np.ndarray) -> Coded:
        return Coded(self.values, self.codes[rows])

    def tolist(self) -> list:
        return [self.values[i] for i in self.codes.tolist()]

    def value(self, row: int | np.integer) -> Any:
        return self.values[self.codes[row]]

    def truth(self) -> np.ndarray:
        """Per row: whether its value is true (a flag set, a list not empty)."""
        return np.array([bool(v) for v in self.values], bool)[self.codes]


def _column(values: Sequence | Coded | pa.Array, where: str) -> tuple[pa.Array, str]:
    """One column of facts as an exact Arrow array and its type (text or number)."""
    if isinstance(values, Coded):
        used = np.bincount(values.codes, minlength=len(values.values)) > 0
        array, kind = _column([v for v, u in zip(values.values, used.tolist()) if u], where)
        return array.take(pa.array((np.cumsum(used) - 1)[values.codes])), kind
    if isinstance(values, pa.Array):
        if _is_text(values.type) or (pa.types.is_dictionary(values.type) and _is_text(values.type.value_type)):
            return values, TEXT
        if pa.types.is_integer(values.type):
            return values, NUMBER
        values = values.to_pylist()
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        kinds = {value_type(v, where) for v in values}
        if kinds != {NUMBER}:
            raise SqlTypeError(f"{where} holds both text and numbers") from None
        if any(abs(v) > _MAX_EXACT for v in values):
            raise SqlEngineError(f"{where}: a number beyond 38 digits cannot be held exactly") from None
        return pa.array([Decimal(v) for v in values], pa.decimal128(38, 0)), NUMBER
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array, TEXT
    if pa.types.is_integer(array.type):
        return array, NUMBER
    if pa.types.is_null(array.type):
        raise SqlTypeError(f"{where}: null values")
    bad = next(v for v in values if not isinstance(v, (int, str)) or isinstance(v, bool))
    value_type(bad, where)  # raises with the reason (float, bool, ...)
    raise SqlTypeError(f"{where}: unsupported values of type {array.type}")


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


CHUNK = 1_000_000  # facts turned into Arrow at a time: the tuples of one chunk are all that is kept in Python


def fact_tables(facts: Iterable[tuple], arity: Mapping[str, int]) -> dict[str, tuple[pa.Table, tuple[str, ...]]]:
    """Facts grouped by predicate as Arrow tables (columns c0.., or u for arity 0) with their column types
    (duplicates are removed where it matters: every derived relation is a set). `facts` may be a generator: it
    is read a chunk at a time."""
    parts: dict[str, list[tuple[pa.Table, tuple[str, ...]]]] = defaultdict(list)
    facts = iter(facts)
    with _no_gc():  # millions of small tuples: the cyclic collector would rescan them all, over and over
        while chunk := list(itertools.islice(facts, CHUNK)):
            rows: dict[str, list[tuple]] = defaultdict(list)
            for fact in chunk:
                rows[fact[0]].append(fact)
            del chunk
            for pred, values in rows.items():
                parts[pred].append(_table(pred, values, arity))
    return {pred: _concat(pred, tables) for pred, tables in parts.items()}


FactColumns = Mapping[str, Sequence[Any]]  # predicate -> one column per argument: a list, NumPy array, Coded or Arrow


def column_tables(columns: FactColumns, arity: Mapping[str, int]) -> dict[str, tuple[pa.Table, tuple[str, ...]]]:
    """Facts given column-wise as Arrow tables, with their column types, exactly as `fact_tables` types them,
    without a tuple per fact (a screened portfolio's facts are columns already: queries/columns.py)."""
    out = {}
    for pred, values in columns.items():
        if pred not in arity:
            raise SqlEngineError(f"{pred}/{len(values)} is not a predicate of the program")
        n = arity[pred]
        if len(values) != n or n == 0:
            raise SqlEngineError(f"{pred} has {n} arguments, not {len(values)} columns (0 arguments: give tuples)")
        if len({len(v) for v in values}) != 1:
            raise SqlEngineError(f"{pred}: its columns differ in length")
        if len(values[0]):
            out[pred] = _arguments_table(pred, values)
    return out


def _arguments_table(pred: str, columns: Sequence[Sequence]) -> tuple[pa.Table, tuple[str, ...]]:
    """One predicate's facts, one column per argument, as an Arrow table (columns c0..) and the columns' types."""
    arrays, kinds = zip(*(_column(c, f"argument {i + 1} of {pred}") for i, c in enumerate(columns)))
    return pa.table(dict(zip(column_names(len(columns)), arrays))), tuple(kinds)


def _table(pred: str, values: list[tuple], arity: Mapping[str, int]) -> tuple[pa.Table, tuple[str, ...]]:
    if pred not in arity:
        raise SqlEngineError(f"{pred}/{len(values[0]) - 1} is not a predicate of the program")
    n = arity[pred]
    if set(map(len, values)) != {n + 1}:
        bad = next(v for v in values if len(v) != n + 1)
        raise SqlEngineError(f"{bad}: {pred} has {n} arguments")
    if n == 0:
        return pa.table({UNIT: pa.array([1], pa.int64())}), ()
    return _arguments_table(pred, [list(col) for col in list(zip(*values))[1:]])


def _concat(pred: str, tables: list[tuple[pa.Table, tuple[str, ...]]]) -> tuple[pa.Table, tuple[str, ...]]:
    """The chunks of one predicate as one table (whole numbers widened to decimals where one chunk needed it)."""
    kinds = tables[0][1]
    if any(k != kinds for _, k in tables):
        raise SqlTypeError(f"{pred}: a column holds both text and numbers")
    if len(tables) == 1:
        return tables[0]
    schema = pa.schema(
        [
            pa.field(c, pa.decimal128(38, 0))
            if any(pa.types.is_decimal(t.schema.field(c).type) for t, _ in tables)
            else tables[0][0].schema.field(c)
            for c in tables[0][0].column_names
        ]
    )
    return pa.concat_tables([t.cast(schema) for t, _ in tables]), kinds


@contextmanager
def _no_gc():
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ---- backends: where the SQL runs


@lru_cache(maxsize=16)
def _parsed_type(name: str, dialect: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect)


def _type(name: str, dialect: str) -> exp.DataType:
    return _parsed_type(name, dialect).copy()  # a node belongs to one tree: each use gets its own copy


class DuckDBBackend:
    """One evaluation in DuckDB: its own schema (run<n>) of an engine's in-memory database, whose main schema
    holds the base facts, loaded once; names are looked up in the run's schema first."""

    dialect = "duckdb"
    _runs = itertools.count()

    def __init__(self, database):
        self.con = database.cursor()
        self.schema = f"run{next(self._runs)}"
        self.con.execute(f"CREATE SCHEMA {self.schema}")  # a generated name
        self.con.execute(f"SET search_path = '{self.schema},main'")

    @staticmethod
    def database(threads: int | None = None):
        import duckdb

        config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
        if threads:
            config["threads"] = threads
        return duckdb.connect(":memory:", config=config)

    @staticmethod
    def sql_type(kind: str) -> exp.DataType:
        return _type({NUMBER: "DECIMAL(38, 0)", KEY: "INTEGER"}.get(kind, "VARCHAR"), "duckdb")

    def load(self, name: str, table: pa.Table, kinds: tuple[str, ...]) -> None:
        self.con.register("_aidkb_in", table)
        self.create(name, exp.select(*_casts(table.column_names, kinds, self.sql_type)).from_("_aidkb_in"))
        self.con.unregister("_aidkb_in")

    def create(self, name: str, query: exp.Expression, view: bool = False) -> None:
        """A table holding the query's rows (or, if `view`, a view that its one reader inlines)."""
        import duckdb

        head = exp.Create(
            this=exp.Table(this=exp.to_identifier(name)),
            kind="VIEW" if view else "TABLE",
            expression=exp.Select(expressions=[exp.Literal.number(1)]),
        ).sql("duckdb", copy=False)
        body = query.meta.get("duckdb")  # a compiled rule's SELECT is written once per program (see _Run)
        if body is None:
            body = query.meta["duckdb"] = query.sql("duckdb", copy=False)  # DuckDB's transforms leave our trees
        try:  # both parts written by sqlglot from generated names and the compiled program: no user text
            self.con.execute(head.removesuffix(" AS SELECT 1") + " AS " + body)
        except duckdb.OutOfRangeException as e:
            raise SqlEngineError(f"a computed number does not fit in 38 digits: {e}") from None

    def append(self, name: str, source: str) -> None:
        self.con.execute(exp.insert(exp.select("*").from_(source), name).sql("duckdb"))

    def count(self, name: str) -> int:
        return self.con.execute(exp.select(exp.func("count", exp.Star())).from_(name).sql("duckdb")).fetchall()[0][0]

    def fetch(self, name: str) -> pa.Table:
        return self.con.sql(exp.select("*").from_(name).sql("duckdb")).to_arrow_table()

    def drop(self, name: str) -> None:
        """Drop a table of this run (never one of the main schema's base facts)."""
        table = exp.Table(this=exp.to_identifier(name), db=exp.to_identifier(self.schema))
        self.con.execute(exp.Drop(tables=[table], kind="TABLE", exists=True).sql("duckdb"))

    def close(self) -> None:
        self.con.execute(f"DROP SCHEMA {self.schema} CASCADE")
        self.con.close()


_spark_lock = threading.Lock()


def spark_session(master: str | None = None):
    """The process's Spark session: local mode by default, AIDKB_SPARK_MASTER (or `master`) names a cluster;
    no UI, bound to 127.0.0.1 in local mode, ANSI arithmetic (an overflow is an error, never a null)."""
    from pyspark.sql import SparkSession

    with _spark_lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        master = master or SPARK_MASTER
        builder = (
            SparkSession.builder.master(master)
            .appName("aidkb")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.ansi.enabled", "true")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.adaptive.enabled", "true")
        )
        if master.startswith("local"):
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return session


class SparkBackend:
    """Temporary views of checkpointed DataFrames in a Spark session, named with a prefix per evaluation."""

    dialect = "spark"
    _runs = itertools.count()

    def __init__(self, session=None):
        self.spark = session or spark_session()
        self.prefix = f"aidkb{os.getpid()}_{next(self._runs)}_"
        self.frames: dict[str, Any] = {}  # pyspark DataFrames (pyspark is an optional dependency)

    @staticmethod
    def sql_type(kind: str) -> exp.DataType:
        return _type({NUMBER: "DECIMAL(38, 0)", KEY: "BIGINT"}.get(kind, "STRING"), "spark")

    def _name(self, name: str) -> str:
        return self.prefix + name

    def _keep(self, name: str, frame, view: bool = False) -> None:
        from pyspark.errors import ArithmeticException

        if not view:  # materialized now: a lazy plan over a hundred relations is too deep for Catalyst
            try:
                frame = frame.localCheckpoint(eager=True)
            except ArithmeticException as e:
                raise SqlEngineError(f"a computed number does not fit in 38 digits: {e}") from None
        frame.createOrReplaceTempView(self._name(name))
        self.frames[name] = frame

    def load(self, name: str, table: pa.Table, kinds: tuple[str, ...]) -> None:
        frame = self.spark.createDataFrame(table)
        casts = (
            [exp.cast(exp.column(c), self.sql_type(k)).as_(c).sql("spark") for c, k in zip(table.column_names, kinds)]
            if kinds
            else ["1 AS u"]
        )
        self._keep(name, frame.selectExpr(*casts))

    def create(self, name: str, query: exp.Expression, view: bool = False) -> None:
        """A checkpointed DataFrame of the query's rows (or, if `view`, the lazy DataFrame its one reader inlines)."""
        query = query.transform(self._rename)
        self._keep(name, self.spark.sql(query.sql("spark")), view)

    def _rename(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name in self.frames:
            node = node.copy()
            node.set("this", exp.to_identifier(self._name(node.name)))
        return node

    def append(self, name: str, source: str) -> None:
        self._keep(name, self.frames[name].unionAll(self.frames[source]))

    def count(self, name: str) -> int:
        return self.frames[name].count()

    def fetch(self, name: str) -> pa.Table:
        from pyspark.errors import ArithmeticException

        try:
            return self.frames[name].toArrow()
        except ArithmeticException as e:
            raise SqlEngineError(f"a computed number does not fit in 38 digits: {e}") from None

    def drop(self, name: str) -> None:
        if self.frames.pop(name, None) is not None:
            self.spark.catalog.dropTempView(self._name(name))

    def close(self) -> None:
        for name in list(self.frames):
            self.drop(name)


def _casts(columns: list[str], kinds: tuple[str, ...], sql_type) -> list[exp.Expr]:
    if not kinds:
        return [exp.Literal.number(1).as_("u")]
    return [exp.cast(exp.column(c), sql_type(k)).as_(c) for c, k in zip(columns, kinds)]


# ---- answers


class Answers:
    """The rows of each asked predicate: as Arrow tables (columns c0.., exact decimals), as sets of Python tuples,
    or asked like aidkb.kb.engine.Engine (`ask`), per case. Relations the case abstraction kept per representative
    are expanded to every case only when a whole table is read."""

    def __init__(
        self,
        tables: dict[str, pa.Table],
        arity: dict[str, int],
        seconds: dict[str, float],
        key: dict[str, int] | None = None,
        case_names: pa.Array | None = None,
        maps: list[np.ndarray] | None = None,
        columns: dict[str, int] | None = None,
    ):
        self.arity, self.seconds = arity, seconds  # "facts" (to Arrow), "evaluation" (the SQL run); _cpu: CPU
        # time of this process (DuckDB's threads included, Spark's JVM not)
        self._raw, self._key, self._names = tables, key or {}, case_names
        self._maps, self._columns = maps, columns or {}
        self._tables: dict[str, pa.Table] = {}
        self._rows: dict[str, set[tuple]] = {}
        self._by_key: dict[str, dict] = {}
        self._index: dict | None = None

    def __iter__(self):
        return iter(self._raw)

    def table(self, pred: str, cases: Sequence[str] | None = None) -> pa.Table:
        """Every row of `pred`, cases named as in the facts; or, given `cases`, the rows of those cases alone
        (without expanding the others' rows: a few cases of a million)."""
        if cases is None and pred in self._tables:
            return self._tables[pred]
        table = self._raw[pred]
        if pred in self._key and self._names is not None:
            k = self._key[pred]
            c = table.column_names[k]
            codes = None if cases is None else self._codes(cases)
            if pred in self._columns:  # rows of the representatives: one copy per case of each class
                assert self._maps is not None  # kept columns come with their maps
                reps = self._maps[self._columns[pred]]
                reps = reps if codes is None else reps[codes]
                keys = table.column(c).to_numpy().astype(np.int64)
                if codes is not None:
                    near = np.isin(keys, reps)
                    table, keys = table.filter(pa.array(near)), keys[near]
                rows, at = _expand(keys, reps)
                table = table.take(rows).set_column(k, c, pa.array(at if codes is None else codes[at]))
            elif codes is not None:
                table = table.filter(
                    pc.is_in(table.column(c), value_set=pa.array(codes).cast(table.schema.field(c).type))
                )
            table = table.set_column(k, c, pc.take(self._names, table.column(c).cast(pa.int64())))
        elif cases is not None:  # no case key: the case is the first argument, as in every answer predicate
            table = table.filter(pc.is_in(table.column(0), value_set=pa.array(cases, pa.string())))
        if cases is None:
            self._tables[pred] = table
        return table

    def _codes(self, cases: Sequence[str]) -> np.ndarray:
        """The engine's numbers of these cases (cases it was not given are left out)."""
        assert self._names is not None
        return np.flatnonzero(pc.is_in(self._names, value_set=pa.array(cases, pa.string())).to_numpy(False))

    def kinds(self, preds: Iterable[str], cases: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Cases with the same rows of every one of `preds` (the case aside) are of one kind: each case's kind
        (0..) and the first case of each kind. Found over the rows as computed (per representative where the
        abstraction kept them so, never expanded to every case), exactly: equal numbers for equal sets of rows,
        never a lossy hash. The case is each predicate's key (its first argument where the engine has no case
        key)."""
        n = len(cases)
        tokens = []
        position = None
        if self._names is not None:
            found = pc.index_in(pa.array(cases, pa.string()), value_set=self._names)
            position = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        for pred in preds:
            table = self._raw[pred]
            if pred in self._key and position is not None:
                assert self._names is not None
                by_code = _fact_codes(table, self._key[pred], len(self._names))  # per case or representative
                if pred in self._columns:
                    assert self._maps is not None
                    by_code = by_code[self._maps[self._columns[pred]]]
                tokens.append(np.where(position >= 0, by_code[np.maximum(position, 0)], 0))
            else:
                code = pc.index_in(table.column(0), value_set=pa.array(cases, pa.string()))
                known = pc.is_valid(code)
                table = table.filter(known).set_column(0, table.column_names[0], code.filter(known))
                tokens.append(_fact_codes(table, 0, n))
        kinds = combine(tokens, n) if tokens else np.zeros(n, np.int64)
        return kinds, firsts(kinds)

    def rows(self, pred: str) -> set[tuple]:
        if pred not in self._rows:
            table = self.table(pred)
            if self.arity[pred] == 0:
                self._rows[pred] = {()} if table.num_rows else set()
            else:
                self._rows[pred] = set(zip(*(_exact_values(col) for col in table.columns)))
        return self._rows[pred]

    def __getitem__(self, pred: str) -> set[tuple]:
        return self.rows(pred)

    def ask(self, pred: str, args: tuple) -> list[tuple]:
        """Like aidkb.kb.engine.Engine.ask: the rows matching args (None is free), sorted by repr; fast when the case is
        bound (one case's rows are looked up through its representative)."""
        k = self._key.get(pred)
        rows: Iterable[tuple]
        if k is None or args[k] is None or self._names is None:
            rows = self.rows(pred)
        else:
            rows = self._case_rows(pred, k, args[k])
        return sorted({r for r in rows if all(a is None or a == v for a, v in zip(args, r))}, key=repr)

    def _case_rows(self, pred: str, k: int, case) -> list[tuple]:
        assert self._names is not None  # only called for keyed answers
        if self._index is None:
            self._index = {name: i for i, name in enumerate(self._names.to_pylist())}
        code = self._index.get(case)
        if code is None:
            return []
        if pred not in self._by_key:
            table = self._raw[pred]
            by: dict[int, list[tuple]] = defaultdict(list)
            for row in zip(*(_exact_values(col) for col in table.columns)):
                by[row[k]].append(row)
            self._by_key[pred] = by
        rep = int(self._maps[self._columns[pred]][code]) if self._maps is not None and pred in self._columns else code
        return [r[:k] + (case,) + r[k + 1 :] for r in self._by_key[pred].get(rep, ())]


def _expand(row_reps: np.ndarray, case_reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows kept per representative (row_reps) and each case's representative (case_reps): the row and the
    case of every (row, case) pair with the same representative, as two parallel arrays."""
    rows = np.argsort(row_reps, kind="stable")
    cases = np.argsort(case_reps, kind="stable")
    sorted_cases = case_reps[cases]
    lo = np.searchsorted(sorted_cases, row_reps[rows], "left")
    counts = np.searchsorted(sorted_cases, row_reps[rows], "right") - lo
    starts = np.cumsum(counts) - counts
    at = np.repeat(lo - starts, counts) + np.arange(int(counts.sum()))
    return np.repeat(rows, counts), cases[at]


def _exact_values(column) -> list:
    values = column.to_pylist()
    if pa.types.is_decimal(column.type):
        return [None if v is None else int(v) for v in values]
    return values


# ---- the engine


class SqlEngine:
    """A checked program with its base facts, evaluated set at a time on DuckDB or Spark. `share`: an engine
    of the same predicates (a baseline) whose DuckDB database serves this one too: the base facts both hold
    are read from it, the others are loaded in each run's own schema (a reform loads only what it changes)."""

    def __init__(
        self,
        program: Program,
        base_facts: Iterable[tuple],
        backend: str = "duckdb",
        *,
        threads: int | None = None,
        spark=None,
        abstraction: bool = True,
        share: SqlEngine | None = None,
    ):
        if backend not in ("duckdb", "spark"):
            raise ValueError(f"unknown SQL backend {backend!r} (duckdb or spark)")
        self.program, self.backend, self.threads, self.spark = program, backend, threads, spark
        self.arity = {d.atom.pred: d.atom.arity for d in program.declarations}
        for r in program.rules:
            self.arity[r.head.pred] = r.head.arity
            self.arity.update(
                {lit.atom.pred: lit.atom.arity for lit in r.body if isinstance(lit, (Positive, Negative))}
            )
        seeds = [r for r in program.rules if not r.body]
        self.derived = {r.head.pred for r in program.rules if r.body}
        self.base = fact_tables(
            list(base_facts) + [(r.head.pred, *(a.value for a in r.head.args if isinstance(a, Const))) for r in seeds],
            self.arity,
        )  # a fact rule's arguments are constants (kb/checks.py)
        self.declared = {d.atom.pred for d in program.declarations}
        self.program = Program(program.declarations, tuple(r for r in program.rules if r.body), program.version)
        self.partition = partition(self.program) if abstraction else None
        self._databases: dict[bool, Any] = {}  # DuckDB, small runs or not: the base facts in the main schema
        self._share, self.in_main = None, set(self.base)  # base facts read from the main schema
        if (
            share is not None
            and backend == share.backend == "duckdb"
            and threads == share.threads
            and self.derived == share.derived
            and _names(self.arity) == _names(share.arity)
        ):
            self._share = share  # its database serves; the base facts that differ are loaded in each run
            self.in_main = {
                p
                for p, (t, k) in self.base.items()
                if p in share.base and share.base[p][1] == k and share.base[p][0].equals(t)
            }
        self._lock = threading.Lock()
        self._digest: str | None = None

    def digest(self) -> str:
        """A digest of what decides this engine's answers besides the case facts (kb/sql/store.py)."""
        if self._digest is None:
            import hashlib

            h = hashlib.sha256(f"{code_version()}\0{self.backend}\0{self.partition is not None}\0".encode())
            h.update(repr((self.program.declarations, self.program.rules)).encode())
            for pred, (table, kinds) in sorted(self.base.items()):
                table_digest(h, f"{pred}/{','.join(kinds)}", table)
            self._digest = h.hexdigest()
        return self._digest

    def _backend(self, small: bool = False):
        """Where one evaluation runs. DuckDB: a schema of the engine's database; a small run (a few thousand
        cases) gets a database of its own with one thread, as starting threads costs more than they save on
        small tables."""
        if self.backend == "spark":
            return SparkBackend(self.spark)
        if self._share is not None:
            return self._share._backend(small)
        with self._lock:
            database = self._databases.get(small)
            if database is None:  # the base facts, loaded once into the main schema
                database = self._databases[small] = DuckDBBackend.database(1 if small else self.threads)
                names = _names(self.arity)
                con = database.cursor()
                for pred, (table, kinds) in sorted(self.base.items()):
                    con.register("_aidkb_in", table)
                    con.execute(
                        exp.Create(
                            this=exp.Table(
                                this=exp.to_identifier(
                                    names[pred] if pred not in self.derived else "s" + names[pred][1:]
                                )
                            ),
                            kind="TABLE",
                            expression=exp.select(*_casts(table.column_names, kinds, DuckDBBackend.sql_type)).from_(
                                "_aidkb_in"
                            ),
                        ).sql("duckdb")
                    )
                    con.unregister("_aidkb_in")
                con.close()
        return DuckDBBackend(database)

    def evaluate(
        self,
        facts: Iterable[tuple] = (),
        predicates: Iterable[str] | None = ANSWER_PREDICATES,
        fact_columns: FactColumns | None = None,
    ) -> Answers:
        """The rows of `predicates` (every predicate if None) over the base facts plus `facts` (of any number of
        cases) and the facts given column-wise in `fact_columns`."""
        wanted = sorted(self.arity) if predicates is None else list(predicates)
        for pred in wanted:
            if pred not in self.arity:
                raise SqlEngineError(f"{pred} is not a predicate of the program")
        start, cpu = time.perf_counter(), time.process_time()
        inputs = fact_tables(facts, self.arity)
        for pred, table in column_tables(fact_columns or {}, self.arity).items():
            inputs[pred] = _concat(pred, [inputs[pred], table]) if pred in inputs else table
        for pred in inputs:
            if pred in self.derived or pred not in self.declared:
                raise SqlEngineError(
                    f"{pred} is not declared (input or base); facts are given for declared predicates only"
                )
        tables = dict(self.base)
        for pred, (table, kinds) in inputs.items():
            if pred in tables:
                old, old_kinds = tables[pred]
                if old_kinds != kinds:
                    raise SqlTypeError(f"{pred}: the case facts' types {kinds} differ from the base facts' {old_kinds}")
                table = pa.concat_tables([old, table.cast(old.schema)])
            tables[pred] = (table, kinds)
        tables, names = self._encode_keys(tables)
        seconds = {"facts": time.perf_counter() - start, "facts_cpu": time.process_time() - cpu}
        start, cpu = time.perf_counter(), time.process_time()
        store, key = _store(), None
        rows = sum(t.num_rows for t, _ in inputs.values())
        if store is not None and rows <= MAX_INPUT_ROWS:
            key = evaluation_key(
                self.digest(), ((f"{p}/{','.join(k)}", t) for p, (t, k) in sorted(inputs.items())), wanted
            )
            kept = store.read(key)
            if kept is not None:
                seconds.update(evaluation=time.perf_counter() - start, evaluation_cpu=time.process_time() - cpu)
                return self._answers(kept["tables"], seconds, kept["names"], kept["maps"], kept["columns"])
        backend = self._backend(small=rows <= SMALL_RUN)
        try:
            run = _Run(self, backend, tables, set(wanted), names, drop=rows > SMALL_RUN)
            del tables, inputs  # the run holds the case facts until they are loaded, then lets them go
            found = run.answers()
        finally:
            backend.close()
        part = self.partition
        columns = {p: run.classes[part.depends[p]] + 1 for p in found if part and part.depends.get(p) in run.classes}
        if store is not None and key is not None:
            store.write(key, found, names, run.maps, columns)
        seconds.update(evaluation=time.perf_counter() - start, evaluation_cpu=time.process_time() - cpu)
        return self._answers(found, seconds, names, run.maps, columns)

    def _answers(
        self,
        found: dict[str, pa.Table],
        seconds: dict[str, float],
        names: pa.Array | None,
        maps: list[np.ndarray] | None,
        columns: dict[str, int],
    ) -> Answers:
        part = self.partition
        return Answers(
            found, self.arity, seconds, part.key if part and names is not None else None, names, maps, columns
        )

    def _encode_keys(self, tables: dict) -> tuple[dict, pa.Array | None]:
        """Inside the engine, cases are named by numbers (joins on numbers are faster than on text): the key
        column of each keyed table becomes an index into the case names, decoded again in the answers. Keys given
        already as indices into one dictionary (a portfolio's row numbers into its ids: queries/columns.py) are
        taken as they are; the others are looked up in it, or all are encoded afresh."""
        part = self.partition
        tables = {p: _decoded(t, keep=part.key.get(p) if part else None) for p, t in tables.items()}
        keyed = sorted(p for p in tables if part is not None and p in part.key)
        if part is None or not keyed:
            return tables, None
        columns = [tables[p][0].column(part.key[p]) for p in keyed]
        given = _given_codes(columns)
        if given is not None:
            codes, names = given
        else:
            plain = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in columns]
            if len({c.type for c in plain}) != 1:
                return {p: _decoded(t, None) for p, t in tables.items()}, None
            encoded = pa.chunked_array([chunk for c in plain for chunk in c.chunks], plain[0].type).dictionary_encode()
            chunks = iter(encoded.chunks)
            codes = [pa.chunked_array([next(chunks).indices for _ in c.chunks], pa.int32()) for c in plain]
            names = encoded.chunks[-1].dictionary if encoded.num_chunks else pa.array([], plain[0].type)
        out = dict(tables)
        for p, key in zip(keyed, codes):
            table, kinds = tables[p]
            k = part.key[p]
            out[p] = (table.set_column(k, table.column_names[k], key), kinds[:k] + (KEY,) + kinds[k + 1 :])
        return out, names

    def compiler(self, program: Program, fact_types: dict) -> RuleCompiler:
        """The rule compiler for a program (the engine's, or its abstraction) under the facts' types, shared by
        the engines of one process (a reform that moves a country keeps the rules, and so the statements)."""
        key = (
            self.backend,
            program.declarations,
            program.rules,
            tuple(sorted((k, v[0]) for k, v in fact_types.items())),
        )
        with _compiled_lock:
            found = _compiled.get(key)
            if found is not None:
                _compiled.move_to_end(key)
                return found
        types = Types(program, fact_types)
        check_types_exact(types, program)
        backend = DuckDBBackend if self.backend == "duckdb" else SparkBackend
        compiler = RuleCompiler(program, types, backend.sql_type)
        with _compiled_lock:
            _compiled[key] = compiler
            while len(_compiled) > 32:
                _compiled.popitem(last=False)
        return compiler


def _decoded(fact: tuple[pa.Table, tuple[str, ...]], keep: int | None) -> tuple[pa.Table, tuple[str, ...]]:
    """A table of facts with its dictionary-encoded columns (but column `keep`) as plain values: the engines
    join text with text."""
    table, kinds = fact
    for k, name in enumerate(table.column_names):
        t = table.schema.field(k).type
        if k != keep and pa.types.is_dictionary(t):
            table = table.set_column(k, name, table.column(k).cast(t.value_type))
    return table, kinds


def _given_codes(columns: list[pa.ChunkedArray]) -> tuple[list[pa.ChunkedArray], pa.Array] | None:
    """The key columns as int32 indices into one dictionary of case names, where they come so (every chunk of a
    column a dictionary array, all over the same dictionary, or text found in it); None otherwise."""
    chunks = [chunk for c in columns for chunk in c.chunks]
    encoded = [chunk for chunk in chunks if pa.types.is_dictionary(chunk.type)]
    if not encoded or not pa.types.is_int32(encoded[0].type.index_type):
        return None
    names = encoded[0].dictionary
    if pc.count_distinct(names).as_py() != len(names):
        return None  # a name twice (or a null one): only encoding afresh merges its facts into one case
    same = {_address(names)}
    for chunk in encoded[1:]:
        if _address(chunk.dictionary) not in same:
            if not (pa.types.is_int32(chunk.type.index_type) and chunk.dictionary.equals(names)):
                return None
            same.add(_address(chunk.dictionary))
    plain = [chunk for chunk in chunks if not pa.types.is_dictionary(chunk.type)]
    if plain and any(chunk.type != names.type for chunk in plain):
        return None
    found = pc.index_in(pa.concat_arrays(plain), value_set=names) if plain else pa.array([], pa.int32())
    if found.null_count:
        return None  # a case that is not among the names (or a null key): encode afresh
    out, at = [], 0
    for c in columns:
        parts = []
        for chunk in c.chunks:
            if pa.types.is_dictionary(chunk.type):
                parts.append(chunk.indices)
            else:
                parts.append(found.slice(at, len(chunk)))
                at += len(chunk)
        out.append(pa.chunked_array(parts, pa.int32()))
    return out, names


def _address(array: pa.Array) -> tuple[int, ...]:
    """Where an array's buffers are (arrays filtered from one dictionary array share its dictionary's)."""
    return tuple(b.address if b is not None else 0 for b in array.buffers()) + (array.offset, len(array))


@lru_cache(maxsize=1)
def _store() -> ResultStore | None:
    """The process's store of answers (AIDKB_SQL_STORE, read at first use; see kb/sql/store.py)."""
    return ResultStore.from_environment()


_compiled: OrderedDict = OrderedDict()
_statements: OrderedDict = OrderedDict()  # signature of a predicate's rules -> its statement (see _Run._statement)
MAX_STATEMENTS = 4_000
_compiled_lock = threading.Lock()
MIN_CASES_TO_ABSTRACT = 8
SMALL_RUN = 100_000  # input facts up to which a run is small: one thread, relations kept to the end
CLASS_RATIO = 4  # abstract an input set only if it has at most a quarter as many classes as there are cases


class _Run:
    """One evaluation on one backend: load, (abstract), evaluate stratum by stratum, read the answers."""

    def __init__(
        self,
        engine: SqlEngine,
        backend,
        tables: dict,
        wanted: set[str],
        case_names: pa.Array | None,
        drop: bool = False,
    ):
        self.engine, self.backend, self.tables, self.wanted = engine, backend, tables, wanted
        self.drop = drop  # drop each relation after its last reader (large runs: memory; small ones: time)
        self.case_names = case_names
        self.names = _names(engine.arity)
        self.fact_types = {(p, i): (k, f"the facts of {p}") for p, (_, ks) in tables.items() for i, k in enumerate(ks)}
        self.classes: dict[frozenset[str], int] = {}
        self.maps: list[np.ndarray] | None = None  # per case: its number, then its representative per grouping
        self.arity = dict(engine.arity)

    def answers(self) -> dict[str, pa.Table]:
        engine, backend, names = self.engine, self.backend, self.names
        loaded = engine.in_main if isinstance(backend, DuckDBBackend) else set()  # in the main schema
        given = set(self.tables)
        codes = self._codes()
        seeds = {}
        for pred in sorted(given):  # each table let go once loaded: the case facts are held once, in the backend
            table, kinds = self.tables.pop(pred)
            if pred in engine.derived:
                seeds[pred] = f"s{names[pred][1:]}"
                if pred not in loaded:
                    backend.load(seeds[pred], table, kinds)
            elif pred not in loaded or table is not engine.base[pred][0]:
                backend.load(names[pred], table, kinds)
            del table
        program = engine.program
        if codes is not None and engine.partition is not None:
            self._abstract({p for s in strata(program, self.wanted & engine.derived) for p in s.preds}, codes)
            program = abstract(program, engine.partition, self.classes)
        del codes
        pa.default_memory_pool().release_unused()  # the loaded facts' buffers, back to the system for the backend
        compiler = engine.compiler(program, self.fact_types)
        types = compiler.types
        for pred in sorted(engine.arity):
            if pred not in engine.derived and pred not in given:
                backend.create(names[pred], self._empty(pred, types.columns(pred, self.arity[pred])))
        by_head: dict[str, list[Rule]] = defaultdict(list)
        readers: dict[str, int] = defaultdict(int)
        for rule in program.rules:
            by_head[rule.head.pred].append(rule)
            for lit in rule.body:
                if isinstance(lit, (Positive, Negative)):
                    readers[lit.atom.pred] += 1
        order = strata(program, self.wanted & engine.derived)
        views = {
            s.preds[0] for s in order if not s.recursive and readers[s.preds[0]] == 1 and s.preds[0] not in self.wanted
        }
        last = _last_reads(order, by_head, views) if self.drop else {}
        kept = set(self.wanted)
        for i, stratum in enumerate(order):
            if stratum.recursive:
                self._fixpoint(compiler, stratum, by_head, seeds)
            else:
                (pred,) = stratum.preds
                query = compiler.cache.get(pred)  # the same program and typing: the same statement, built once
                if query is None:
                    query = compiler.cache[pred] = self._statement(compiler, pred, by_head[pred], seeds)
                backend.create(names[pred], query, view=pred in views)
            for pred in last.get(i, ()):  # read for the last time: its rows are let go (views stay, they hold none)
                if pred not in kept and pred not in views and pred in names:
                    backend.drop(names[pred])
        return {pred: self._read(pred) for pred in sorted(self.wanted)}

    def _statement(self, compiler: RuleCompiler, pred: str, rules: list[Rule], seeds: dict) -> exp.Expression:
        """The statement for a predicate's rules, shared with every program that has the same rules for it under
        the same types and names (a rule edit builds only the statements of the predicates it changes)."""

        def table_for(i: int, p: str) -> str:
            return self.names[p]

        key = (
            self.backend.dialect,
            pred,
            self.names[pred],
            seeds.get(pred),
            tuple(compiler.types.columns(pred, self.arity[pred])),
            tuple(compiler.signature(r, table_for) for r in rules),
        )
        with _compiled_lock:
            found = _statements.get(key)
            if found is not None:
                _statements.move_to_end(key)
                return found
        parts = [compiler.select(r, table_for) for r in rules]
        if pred in seeds:
            parts.append(exp.select("*").from_(seeds[pred]))
        query = _union(parts) if parts else self._empty(pred, compiler.types.columns(pred, self.arity[pred]))
        with _compiled_lock:
            _statements[key] = query
            while len(_statements) > MAX_STATEMENTS:
                _statements.popitem(last=False)
        return query

    # -- case abstraction (kb/sql/partition.py)

    def _codes(self) -> dict[str, np.ndarray] | None:
        """For the case abstraction, each input predicate's facts per case as numbers (see _fact_codes), or None
        when there is no abstraction (no case key, or too few cases)."""
        part = self.engine.partition
        if part is None or self.case_names is None or len(self.case_names) < MIN_CASES_TO_ABSTRACT:
            return None
        n_cases = len(self.case_names)
        return {p: _fact_codes(self.tables[p][0], part.key[p], n_cases) for p in part.inputs if p in self.tables}

    def _abstract(self, needed: set[str], codes: dict[str, np.ndarray]) -> None:
        """Group the cases by the input facts each derived predicate depends on, and keep the groupings that
        are worth it (at most 1/CLASS_RATIO as many classes as cases): one table map@ (each case and its
        representative per grouping) and one table reps@n per grouping. Cases are numbered 0..n-1 here (see
        _encode_keys), so the grouping is done on arrays, exactly (no hashing of values)."""
        part = self.engine.partition
        assert part is not None and self.case_names is not None
        n_cases = len(self.case_names)
        sizes = {p: int(c.max()) + 1 for p, c in codes.items()}
        candidates = sorted({part.depends[p] for p in needed if p in part.depends} - {frozenset()}, key=sorted)
        columns = {"c0": np.arange(n_cases, dtype=np.int64)}
        none = np.zeros(n_cases, dtype=np.int64)
        prefix: list[tuple[str, np.ndarray]] = []  # the classes of the inputs so far, one step per input
        for j in candidates:
            inside = sorted(p for p in j if p in codes)
            if any(sizes[p] * CLASS_RATIO > n_cases for p in inside):
                continue
            shared = 0  # the candidates come in order: a grouping shares its first inputs with the one before
            while shared < min(len(prefix), len(inside)) and prefix[shared][0] == inside[shared]:
                shared += 1
            del prefix[shared:]
            for p in inside[shared:]:
                prefix.append((p, combine([codes[p]], n_cases, prefix[-1][1] if prefix else none)))
            classes = prefix[-1][1] if inside else none
            if int(classes.max(initial=0)) + 1 > n_cases // CLASS_RATIO:
                continue
            first = firsts(classes)
            n = len(self.classes)
            self.classes[j] = n
            columns[f"c{n + 1}"] = first[classes]
            rp = reps_pred(n)
            self.names[rp], self.arity[rp] = f"p{n}", 1
            self.backend.load(self.names[rp], pa.table({"c0": pa.array(first)}), (KEY,))
            self.fact_types[(rp, 0)] = (KEY, "case keys")
        if self.classes:
            self.names[MAP], self.arity[MAP] = "maps", len(columns)
            self.backend.load("maps", pa.table(columns), (KEY,) * len(columns))
            self.maps = list(columns.values())
            self.fact_types.update({(MAP, i): (KEY, "case keys") for i in range(len(columns))})

    def _read(self, pred: str) -> pa.Table:
        """The rows of `pred` as computed (per representative where the abstraction kept it so)."""
        if pred in self.engine.derived:
            return self.backend.fetch(self.names[pred])
        out = f"x{self.names[pred][1:]}"
        self.backend.create(out, exp.select("*").distinct().from_(self.names[pred]))
        return self.backend.fetch(out)

    # -- recursion

    def _fixpoint(self, compiler: RuleCompiler, stratum: Stratum, by_head: dict, seeds: dict) -> None:
        """Semi-naive iteration: each round fires every rule once per recursive atom, that atom reading only the
        facts new in the last round, and keeps what is new."""
        backend, names, preds = self.backend, self.names, set(stratum.preds)

        def recursive_positions(rule: Rule) -> list[int]:
            return [i for i, lit in enumerate(rule.body) if isinstance(lit, Positive) and lit.atom.pred in preds]

        def empty(pred: str) -> exp.Select:
            return self._empty(pred, compiler.types.columns(pred, self.arity[pred]))

        delta = {p: f"d{names[p][1:]}_0" for p in preds}
        for pred in stratum.preds:
            parts = [compiler.select(r, lambda i, p: names[p]) for r in by_head[pred] if not recursive_positions(r)]
            if pred in seeds:
                parts.append(exp.select("*").from_(seeds[pred]))
            backend.create(names[pred], _union(parts) if parts else empty(pred))
            backend.create(delta[pred], exp.select("*").from_(names[pred]))
        for round_ in range(1, MAX_ITERATIONS + 1):
            new = {p: f"d{names[p][1:]}_{round_}" for p in preds}
            for pred in stratum.preds:
                parts = [
                    compiler.select(rule, _delta_at(k, delta, names))
                    for rule in by_head[pred]
                    for k in recursive_positions(rule)
                ]
                backend.create(
                    new[pred],
                    exp.except_(_union(parts), exp.select("*").from_(names[pred]), distinct=True)
                    if parts
                    else empty(pred),
                )
            grown = 0
            for pred in stratum.preds:
                backend.drop(delta[pred])
                n = backend.count(new[pred])
                if n:
                    backend.append(names[pred], new[pred])
                grown += n
            delta = new
            if not grown:
                for pred in stratum.preds:
                    backend.drop(delta[pred])
                return
        raise SqlEngineError(
            f"the recursive rules for {', '.join(stratum.preds)} reach no fixpoint within "
            f"{MAX_ITERATIONS} rounds (unbounded arithmetic?)"
        )

    def _empty(self, pred: str, kinds: list[str]) -> exp.Select:
        if self.arity[pred] == 0:
            return exp.select(exp.Literal.number(1).as_(UNIT)).where(exp.false())
        return exp.select(
            *(
                exp.cast(exp.null(), self.backend.sql_type(k)).as_(c)
                for c, k in zip(column_names(self.arity[pred]), kinds)
            )
        ).where(exp.false())


def _last_reads(order: list[Stratum], by_head: dict[str, list[Rule]], views: set[str]) -> dict[int, set[str]]:
    """For each stratum (by position), the relations it reads for the last time: after it is materialized no
    later stratum needs them. A view is read when its one reader is materialized, so what a view reads counts
    as read there."""
    at = {p: i for i, s in enumerate(order) for p in s.preds}
    reader: dict[str, int] = {}
    for i, s in enumerate(order):
        for p in s.preds:
            for rule in by_head.get(p, ()):
                for lit in rule.body:
                    if isinstance(lit, (Positive, Negative)) and lit.atom.pred in views:
                        reader[lit.atom.pred] = i

    def materialized(i: int) -> int:
        while len(order[i].preds) == 1 and order[i].preds[0] in views and order[i].preds[0] in reader:
            i = reader[order[i].preds[0]]
        return i

    final: dict[str, int] = {}
    for i, s in enumerate(order):
        j = materialized(i)
        for p in s.preds:
            for rule in by_head.get(p, ()):
                for lit in rule.body:
                    if isinstance(lit, (Positive, Negative)):
                        q = lit.atom.pred
                        final[q] = max(final.get(q, j), j, at.get(q, -1))
    out: dict[int, set[str]] = defaultdict(set)
    for q, i in final.items():
        out[i].add(q)
    return out


def _fact_codes(table: pa.Table, key: int, n_cases: int) -> np.ndarray:
    """For each case 0..n-1, a number naming its set of facts in `table` (the key aside), exactly: 0 for no
    fact, equal numbers for equal sets."""
    keys = table.column(key).to_numpy()
    others = [c for i, c in enumerate(table.column_names) if i != key]
    rows = (
        combine(
            [
                pc.dictionary_encode(table.column(c), null_encoding="encode")
                .combine_chunks()
                .indices.to_numpy()
                .astype(np.int64)
                for c in others
            ],
            len(keys),
        )
        if others
        else np.zeros(len(keys), dtype=np.int64)
    )
    out = np.zeros(n_cases, dtype=np.int64)
    sizes = np.bincount(keys, minlength=n_cases) if len(keys) else np.zeros(n_cases, dtype=np.int64)
    if sizes.max(initial=0) <= 1:  # at most one fact per case: the fact's own number
        out[keys] = rows + 1
        return out
    order = np.lexsort((rows, keys))  # several facts per case: number the sorted lists of distinct facts
    keys, rows = keys[order], rows[order]
    keep = np.ones(len(keys), dtype=bool)
    keep[1:] = (keys[1:] != keys[:-1]) | (rows[1:] != rows[:-1])
    keys, rows = keys[keep], rows[keep]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    owners, counts = keys[starts], np.diff(np.r_[starts, len(keys)])
    code = np.zeros(len(owners), dtype=np.int64)
    for j in range(int(counts.max())):  # the j-th fact of every list that has one: work in total rows
        longer = counts > j
        code[longer] = combine([code[longer], rows[starts[longer] + j]], int(longer.sum()))
    out[owners] = combine([counts, code], len(owners)) + 1
    return out


def combine(parts: list[np.ndarray], n: int, start: np.ndarray | None = None) -> np.ndarray:
    """Dense numbers 0.. for the distinct combinations of several parallel arrays of numbers (0 and up), after
    the dense numbers `start` (the combinations of the arrays before them) if given."""
    out = np.zeros(n, dtype=np.int64) if start is None else start
    for part in parts:
        width = int(part.max(initial=0)) + 1
        pair = out * width + part
        space = (int(out.max(initial=0)) + 1) * width
        if space <= max(4 * n, DENSE_SPACE):  # every combination's rank among those present, by a running count
            present = np.zeros(space, dtype=bool)
            present[pair] = True
            out = (np.cumsum(present) - 1)[pair]
        else:
            out = pc.dictionary_encode(pa.array(pair)).indices.to_numpy().astype(np.int64)
    return out


def firsts(classes: np.ndarray) -> np.ndarray:
    """For dense class numbers 0..k-1, the first position of each class."""
    first = np.full(int(classes.max(initial=-1)) + 1, len(classes), np.int64)
    np.minimum.at(first, classes, np.arange(len(classes), dtype=np.int64))
    return first


DENSE_SPACE = 1 << 22  # combinations up to which combine ranks through a table of them all (4 MB of flags)


def _names(arity: dict[str, int]) -> dict[str, str]:
    """Each predicate's relation name (r<n>): generated, never the predicate's own spelling."""
    return {pred: f"r{i}" for i, pred in enumerate(sorted(arity))}


def _delta_at(position: int, delta: dict[str, str], names: dict[str, str]) -> Callable[[int, str], str]:
    """The table each body atom reads in a semi-naive round: the delta at `position`, the whole relation
    elsewhere."""
    return lambda i, p: delta[p] if i == position else names[p]


def _union(parts: Sequence[exp.Expression]) -> exp.Expression:
    return reduce(lambda a, b: exp.union(a, b, distinct=True, copy=False), parts)
