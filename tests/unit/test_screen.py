"""Screening a portfolio (queries/screen.py): CSV, Parquet and JSON Lines in the flat form of the case
contract, every row validated like a case file, bad rows reported with row number and field, every row decided
set at a time, and a sample of rows word for word as `aidkb decide` decides them."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from aidkb.queries.case import load_case, parse_case
from aidkb.queries.decide import decide
from aidkb.queries.reader import read_document
from aidkb.queries.screen import (
    ScreenError,
    case_for_row,
    cell,
    decision_columns,
    screen,
    unflatten,
)
from bench.scale import case_dicts, flatten

from ..conftest import SHARED_CASES


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_portfolio(rows: list[dict], path) -> None:
    """Flat rows as CSV (lists as JSON text), Parquet or JSON Lines, by the file's extension."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    if path.suffix == ".csv":
        pcsv.write_csv(pa.table({k: pa.array([_text(r.get(k)) for r in rows], pa.string()) for k in names}), path)
    elif path.suffix == ".parquet":
        columns = {k: [r.get(k) for r in rows] for k in names}
        for k, values in columns.items():  # whole numbers beyond 64 bits as exact decimals
            if any(isinstance(v, (int, Decimal)) and not isinstance(v, bool) and abs(v) >= 2**63 for v in values):
                columns[k] = [None if v is None else Decimal(v) for v in values]
        pq.write_table(pa.table(columns), path)
    else:
        exact = {k: {c: int(v) if isinstance(v, Decimal) else v for c, v in r.items()} for k, r in enumerate(rows)}
        path.write_text("".join(json.dumps(r) + "\n" for r in exact.values()), encoding="utf-8")


def test_csv_cells_are_typed_like_case_file_scalars():
    assert cell("", "x") is None and cell("null", "x") is None and cell("true", "x") is True
    assert cell("2e+26", "x") == "2e+26" and cell("4E091", "x") == "4E091"  # a Numeral: text, read exactly
    assert cell("26900000", "x") == 26_900_000 and str(cell("2.5e25", "x")) == "2.5E+25"
    assert cell("01750", "x") == "01750" and cell("MY", "x") == "MY" and cell("2025-06-01", "x") == "2025-06-01"
    assert cell('["nac_notified"]', "x") == ["nac_notified"]


def test_unflatten_nests_the_dotted_paths_and_drops_empty_mappings():
    row = {
        "id": "a",
        "transaction.model": None,
        "transaction.model.training_ops": None,
        "transaction.end_user.hq_country": "MY",
        "transaction.end_user.veu_holdings.global_tpp": None,
    }
    assert unflatten(row, 1) == {
        "id": "a",
        "transaction": {"model": None, "end_user": {"hq_country": "MY", "veu_holdings": None}},
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_gives_the_decisions_of_the_case_files(tmp_path, suffix, onto):
    paths = sorted(SHARED_CASES.glob("*.yaml"))
    cases = [load_case(p) for p in paths]
    plain = [c for c in cases if not c.what_if][:12]
    data = []
    for p, c in zip(paths, cases):
        if c in plain:
            d = read_document(p)
            d.pop("expected", None)
            data.append(flatten(d))
    portfolio = tmp_path / f"portfolio{suffix}"
    write_portfolio(data, portfolio)
    result = screen(portfolio, out_path=tmp_path / "out.csv")
    assert not result.bad, [str(b) for b in result.bad]
    for row, case in zip(result.rows, plain):
        assert {k: row[k] for k in decision_columns(decide(case))} == decision_columns(decide(case)), case.id
    written = pcsv.read_csv(tmp_path / "out.csv").to_pylist()
    assert [r["id"] for r in written] == [c.id for c in plain]
    assert json.loads(written[0]["authorized_by"]) == result.rows[0]["authorized_by"]


def test_bad_rows_are_reported_with_row_and_field_and_never_dropped(tmp_path):
    good = [flatten(d) for d in case_dicts(3, seed=1)]
    rows = [
        good[0],
        {**good[1], "transaction.destination_country": "XX"},
        {**good[2], "transaction.quantity": -5},
        {**good[0]},
    ]  # the last repeats the first id
    portfolio = tmp_path / "p.csv"
    write_portfolio(rows, portfolio)
    result = screen(portfolio, out_path=tmp_path / "out.parquet")
    assert [(b.row, b.field) for b in result.bad] == [
        (2, "transaction.destination_country"),
        (3, "transaction.quantity"),
        (4, "id"),
    ]
    assert len(result.rows) == 4 and result.rows[0]["error"] is None and "unknown country" in result.rows[1]["error"]
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 4
    with pytest.raises(ScreenError) as e:
        screen(portfolio, strict=True)
    assert "row 2" in str(e.value) and "transaction.destination_country" in str(e.value)


def test_numbers_in_csv_are_exact(tmp_path, onto):
    weights = [d for d in case_dicts(400, seed=3) if (d["transaction"].get("model") or {}).get("training_ops")][:2]
    rows = [flatten(d) for d in weights]
    rows[0]["transaction.model.training_ops"] = "1.0000000000000000000000001e26"
    rows[1]["transaction.model.training_ops"] = "2e+26"
    portfolio = tmp_path / "p.csv"
    write_portfolio(rows, portfolio)
    assert case_for_row(portfolio, rows[0]["id"]).training_ops == 10**26 + 10
    assert case_for_row(portfolio, "2").training_ops == 2 * 10**26  # by row number


def test_without_reasons_the_outcomes_are_the_same(tmp_path):
    rows = [flatten(d) for d in case_dicts(150, seed=4)]
    portfolio = tmp_path / "p.parquet"
    write_portfolio(rows, portfolio)
    full, fast = screen(portfolio), screen(portfolio, reasons=False)
    for a, b in zip(full.rows, fast.rows):
        for k in ("license_required", "authorized_by", "red_flags", "review_policy", "uncertain", "obligations"):
            assert a[k] == b[k], (a["id"], k)


@pytest.mark.slow
def test_a_10000_row_portfolio_agrees_with_decide_on_a_random_sample(tmp_path, onto):
    data = case_dicts(10_000, seed=10)
    portfolio = tmp_path / "p.csv"
    write_portfolio([flatten(d) for d in data], portfolio)
    result = screen(portfolio, out_path=tmp_path / "out.parquet")
    assert not result.bad and len(result.rows) == 10_000
    for i in random.Random(10).sample(range(10_000), 25):
        expected = decision_columns(decide(parse_case(data[i], f"{portfolio}: row {i + 1}", onto)))
        assert {k: result.rows[i][k] for k in expected} == expected, data[i]["id"]
