"""The column-wise validator (queries/columns.py, aidkb.queries.screen.validate_columns) against the per-row one
(aidkb.queries.screen.validate, parse_case on every row): on generated portfolios with bad cells of every kind, in
CSV, Parquet and JSON Lines, the same cases (the same facts), the same bad rows in the same words, the same
stop under --strict and the same unreadable cell."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidkb.kb.errors import InputError
from aidkb.queries import case as C
from aidkb.queries.screen import ScreenError, validate, validate_columns
from bench.scale import case_dicts, flatten

from .test_screen import _text

POOL = [flatten(d) for d in case_dicts(120, seed=11)]
COLUMNS = sorted({k for row in POOL for k in row})
# Columns a portfolio may have beyond the pool's: declined row by row, or unknown (the file declined).
DECLINED = ["what_if", "transaction.model", "transaction", "expected.license_required"]
EXTRA = DECLINED + ["expectedfoo", "transaction.x"]
# Bad (and borderline good) cells: wrong types, unknown codes, out-of-bounds and inexact numbers, text that is
# not text, lists and mappings where they do not belong, inconsistent groups (holdings, chains, models).
CELLS = [
    None,
    "",
    " ",
    "null",
    True,
    False,
    0,
    1,
    -1,
    7,
    10**7 + 1,
    10**15 + 1,
    10**36,
    "2e+26",
    "1.5",
    "2.5e25",
    "9e99",
    "abc",
    "MY",
    "ZZ",
    "us",
    "CN",
    "US",
    "3A090",
    "3A090.a",
    "4E091",
    "2025-06-01",
    "2025-02-30",
    "1999-12-31",
    "2025/06/01",
    "export",
    "as_enforced",
    "UVEU",
    "NVEU",
    "datacenter",
    "tx-0000001",
    "Buyer 1",
    "x\x1b[31m",
    "a\u202eb",
    "A" * 201,
    "-lead",
    "1234",
    [],
    ["nac_notified"],
    ["nac_notified", "nac_notified"],
    ["no such fact"],
    [{"name": "Parent", "hq_country": "CN"}],
    [{"name": "Parent", "hq_country": "CN"}, {"name": "Parent", "hq_country": "US"}],
    [{"name": "Buyer 1", "hq_country": "CN"}],
    [{"name": "Parent"}],
    {"training_ops": 5},
    "[1, 2",
]


BOUNDS = {
    "transaction.quantity": C.MAX_QUANTITY,
    "transaction.tpp_per_unit": C.MAX_TPP_PER_UNIT,
    "transaction.memory_bandwidth_gb_s": C.MAX_BANDWIDTH_GB_S,
    "transaction.consignee_tpp_already_this_year": C.MAX_TPP_TOTAL,
    "transaction.country_tpp_already_allocated": C.MAX_TPP_TOTAL,
    "transaction.end_user.nveu_authorization.cumulative_tpp": C.MAX_TPP_TOTAL,
    **{f"transaction.end_user.veu_holdings.{k}": C.MAX_TPP_TOTAL for k in C.HOLDINGS_FIELDS},
    **{f"transaction.model.{k}": C.MAX_TRAINING_OPS for k in ("training_ops", "additional_training_ops")},
    "transaction.model.open_weight_frontier_ops": C.MAX_TRAINING_OPS,
}


def cells(column: str) -> st.SearchStrategy:
    """Cells for a column: the generic ones, and for a number its bounds (each side) and inexact forms."""
    return st.one_of(st.sampled_from(near(column)), st.sampled_from(CELLS))


def near(column: str) -> list:
    """The cells a column's bounds and domain make interesting: each side of each bound, inexact and
    exponent forms, and values the pool has there."""
    bound = BOUNDS.get(column)
    numbers = [] if bound is None else [0, -1, 1, 2, bound, bound + 1, f"{bound}.0", f"{bound + 1}.5", "1e3"]
    return numbers + POOL_VALUES.get(column, []) + [10**6, 10**8 + 1, 5 * 10**25, 3 * 10**26]


POOL_VALUES = {k: sorted({repr(r[k]): r[k] for r in POOL if k in r}.values(), key=repr)[:8] for k in COLUMNS}


def _column_cells(values: list, suffix: str) -> pa.Array:
    """One Parquet column: typed if its cells share a type, else as the CSV text of each cell."""
    try:
        exact = [int(v) if isinstance(v, Decimal) else v for v in values]
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63 for v in exact):
            return pa.array([None if v is None else Decimal(v) for v in exact])
        return pa.array(exact)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, ArithmeticError):
        return pa.array([None if v is None else _text(v) for v in values], pa.string())


def write(rows: list[dict], path) -> None:
    names = list(dict.fromkeys(k for r in rows for k in r))
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        table = pa.table({k: pa.array([_text(r.get(k)) for r in rows], pa.string()) for k in names})
        pcsv.write_csv(table, path)
    elif path.suffix == ".parquet":
        pq.write_table(pa.table({k: _column_cells([r.get(k) for r in rows], ".parquet") for k in names}), path)
    else:
        path.write_text("".join(json.dumps(r, default=int) + "\n" for r in rows), encoding="utf-8")


def outcome(call):
    """What a validator gives: its cases' facts and its bad rows, or the error it stops with."""
    try:
        return ("ok", call())
    except (ScreenError, InputError) as e:
        return ("error", type(e).__name__, e.source, e.field, e.message)


def per_row(path, strict: bool):
    rows, bad = validate(path, strict)
    cases = [c for _, _, c in rows if c is not None]
    return [(c.id, sorted(map(repr, c.facts()))) for c in cases], bad


def column_wise(path, strict: bool):
    portfolio = validate_columns(path, strict)
    facts: dict = {}
    for f in portfolio.facts():
        facts.setdefault(f[1], []).append(repr(f))
    good = portfolio.case_ids(portfolio.good())
    return [(case_id, sorted(facts[case_id])) for case_id in good], portfolio.bad


edits = st.lists(
    st.tuples(st.integers(0, 11), st.sampled_from(COLUMNS + EXTRA)).flatmap(
        lambda at: st.tuples(st.just(at[0]), st.just(at[1]), cells(at[1]))
    ),
    max_size=6,
)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.integers(0, len(POOL) - 12),
    changes=edits,
    dropped=st.lists(st.sampled_from(COLUMNS), max_size=2),
    strict=st.booleans(),
)
def test_column_wise_validation_gives_the_per_row_verdicts(tmp_path, suffix, start, changes, dropped, strict):
    rows = [dict(r) for r in POOL[start : start + 12]]
    for i, column, value in changes:
        rows[i][column] = value
    for column in dropped:
        for r in rows:
            r.pop(column, None)
    path = tmp_path / f"p{suffix}"
    write(rows, path)
    assert outcome(lambda: column_wise(path, strict)) == outcome(lambda: per_row(path, strict))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_a_clean_portfolio_is_accepted_column_wise_with_the_same_facts(tmp_path, suffix):
    path = tmp_path / f"p{suffix}"
    write(POOL, path)
    portfolio = validate_columns(path)
    assert portfolio.accepted.all() and not portfolio.cases and not portfolio.bad  # no row left to parse_case
    assert column_wise(path, False) == per_row(path, False)


def test_a_row_missing_a_key_in_json_lines_is_judged_by_the_per_row_validator(tmp_path):
    rows = [dict(r) for r in POOL[:3]]
    del rows[1]["transaction.end_user.hq_country"]  # required, though it may be null
    path = tmp_path / "p.jsonl"
    write(rows, path)
    portfolio = validate_columns(path)
    assert [(b.row, b.field, b.message) for b in portfolio.bad] == [
        (2, "transaction.end_user.hq_country", "missing required field")
    ]
    assert portfolio.accepted.tolist() == [True, False, True]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_cell_in_every_column_gives_the_per_row_verdicts(tmp_path, suffix):
    """A row of the pool (with an id of its own) with one cell changed, for every column and every cell of
    `near` and CELLS; in Parquet a portfolio per column and type of cell, so that the other columns keep their
    types."""
    # (not the unreadable JSON text: it stops a CSV there; the generated portfolios have it)
    edits = [(c, v) for c in COLUMNS + DECLINED for v in near(c) + CELLS if v != "[1, 2"]
    batches: dict[str, list[dict]] = {}
    for k, (column, value) in enumerate(edits):
        row = {**POOL[(k * 7) % len(POOL)], "id": f"edit-{k}", column: value}
        kind = f"{column}-{type(value).__name__}" if suffix == ".parquet" else "all"
        batches.setdefault(kind, []).append(row)
    for kind, rows in batches.items():
        path = tmp_path / f"p-{kind}{suffix}"
        write(rows, path)
        assert outcome(lambda: column_wise(path, False)) == outcome(lambda: per_row(path, False)), kind


@pytest.mark.parametrize("strict", [True, False])
def test_an_unreadable_cell_stops_the_csv_at_its_row_and_an_earlier_bad_row_wins_under_strict(tmp_path, strict):
    rows = [dict(r) for r in POOL[:6]]
    rows[0]["id"] = "123"  # a number, not an id: a cell of a text column the fast path types itself
    rows[4]["transaction.facts"] = "[1, 2"
    path = tmp_path / "p.csv"
    write(rows, path)
    found = outcome(lambda: column_wise(path, strict))
    assert found == outcome(lambda: per_row(path, strict))
    if strict:
        assert found[2:] == (f"{path}: row 1", "id", "must be a non-empty string, not 123")
    else:
        assert found[2:4] == (f"{path}: row 5: transaction.facts", "")


@pytest.mark.parametrize("dictionary", [False, True])
def test_a_column_in_chunks_is_encoded_with_each_rows_own_value(dictionary):
    # The CSV reader gives a column in chunks; values first met in a later chunk, nulls and empty chunks keep
    # their rows' values (the codes index the last chunk's dictionary, which extends each earlier one).
    from aidkb.queries.columns import arrow_column

    chunks = [["a", "b"], [], ["c", None, "a"], ["d"]]
    array = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    if dictionary:  # a categorical column, as pandas writes it to Parquet
        array = pa.chunked_array([c.dictionary_encode() for c in array.chunks], pa.dictionary(pa.int32(), pa.string()))
    column = arrow_column(array, lambda v: f"<{v}>")
    assert [column.values[k] for k in column.codes.tolist()] == ["<a>", "<b>", "<c>", "<None>", "<a>", "<d>"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_repeated_id_is_a_bad_row_naming_the_first_row_with_it(tmp_path, suffix):
    rows = [dict(r) for r in POOL[:6]]
    rows[2]["id"] = rows[4]["id"] = rows[0]["id"]  # twice again, both against row 1
    rows[5]["id"] = rows[3]["id"]
    path = tmp_path / f"p{suffix}"
    write(rows, path)
    portfolio = validate_columns(path)
    assert [(b.row, b.field, b.message) for b in portfolio.bad] == [
        (3, "id", f"{rows[0]['id']!r} is also the id of row 1"),
        (5, "id", f"{rows[0]['id']!r} is also the id of row 1"),
        (6, "id", f"{rows[3]['id']!r} is also the id of row 4"),
    ]
    assert portfolio.good().tolist() == [0, 1, 3]
    assert outcome(lambda: column_wise(path, False)) == outcome(lambda: per_row(path, False))
