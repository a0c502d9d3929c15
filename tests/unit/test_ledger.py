"""The ledger (queries/ledger.py): running LPP, allocation and NVEU totals computed from the portfolio in date
order, exact integers, an explicit column winning, and the first row that breaches each limit named with the
rules' reason."""

from __future__ import annotations

import copy

import pytest

from aidkb.queries.reader import read_document
from aidkb.queries.screen import case_for_row, screen
from bench.scale import flatten

from ..conftest import OWN_CASES, SHARED_CASES
from .test_screen import write_portfolio


def _rows(template, shipments: list[tuple[str, str, int]], **changes) -> list[dict]:
    """Rows from a case file: (id, date, quantity) each, with the template's other fields."""
    base = read_document(template)
    for key in ("expected", "what_if", "confidence"):
        base.pop(key, None)
    out = []
    for row_id, day, quantity in shipments:
        case = copy.deepcopy(base)
        case["id"], case["transaction"]["quantity"] = row_id, quantity
        for k in ("consignee_tpp_already_this_year", "country_tpp_already_allocated"):
            case["transaction"].pop(k, None)
        if case["transaction"]["end_user"].get("nveu_authorization"):
            case["transaction"]["end_user"]["nveu_authorization"].pop("cumulative_tpp", None)
        flat = flatten(case)
        flat.update({"date": day, **changes})
        out.append(flat)
    return out


def _screen(tmp_path, rows):
    portfolio = tmp_path / "ledger.csv"
    write_portfolio(rows, portfolio)
    return screen(portfolio), portfolio


def test_lpp_totals_per_consignee_and_calendar_year_in_date_order(tmp_path):
    # 1,000 units x 15,832 TPP = 15,832,000 TPP a shipment; the limit is 26,900,000 a consignee a year
    rows = _rows(
        SHARED_CASES / "lpp-under-annual-limit.yaml",
        [("b", "2025-07-01", 1000), ("a", "2025-06-01", 1000), ("c", "2026-01-05", 1000), ("d", "2025-08-01", 100)],
        claimed_route="LPP",
    )
    result, portfolio = _screen(tmp_path, rows)
    assert not result.bad, [str(b) for b in result.bad]
    by_id = {r["id"]: r for r in result.rows}
    assert by_id["a"]["ledger.consignee_tpp_already_this_year"] == 0
    assert by_id["b"]["ledger.consignee_tpp_already_this_year"] == 15_832_000
    assert by_id["d"]["ledger.consignee_tpp_already_this_year"] == 31_664_000
    assert by_id["c"]["ledger.consignee_tpp_already_this_year"] == 0  # a new calendar year
    assert by_id["a"]["claimed_route_ok"] and not by_id["b"]["claimed_route_ok"]
    assert by_id["b"]["breaches"] == ["LPP annual limit per ultimate consignee"]
    (breach,) = result.ledger.breaches
    assert (breach.id, breach.row) == ("b", 1) and "exceeds the annual limit" in breach.why
    assert case_for_row(portfolio, "b").consignee_ytd == 15_832_000  # `aidkb explain --row` sees the same


def test_an_explicit_cumulative_column_wins(tmp_path):
    rows = _rows(
        SHARED_CASES / "lpp-under-annual-limit.yaml",
        [("a", "2025-06-01", 1000), ("b", "2025-07-01", 100)],
        claimed_route="LPP",
    )
    rows[1]["transaction.consignee_tpp_already_this_year"] = 1
    result, _ = _screen(tmp_path, rows)
    assert result.rows[1]["ledger.consignee_tpp_already_this_year"] is None and result.rows[1]["claimed_route_ok"]


def test_allocation_counts_individual_licences_to_the_destination(tmp_path):
    # 20,000 units x 15,832 TPP = 316,640,000 TPP; the allocation is 790,000,000 TPP for 2025-2027
    rows = _rows(
        SHARED_CASES / "tier2-licence-within-allocation.yaml",
        [("x1", "2025-06-01", 20000), ("x2", "2026-02-01", 20000), ("x3", "2027-03-01", 20000)],
        claimed_route="licence",
    )
    result, _ = _screen(tmp_path, rows)
    assert [r["ledger.country_tpp_already_allocated"] for r in result.rows] == [0, 316_640_000, 633_280_000]
    assert [r["review_policy"] for r in result.rows][:2] == ["presumption of approval"] * 2
    (breach,) = result.ledger.breaches
    assert breach.id == "x3" and breach.limit == "Tier 2 country allocation" and "presumption" in breach.why


@pytest.mark.parametrize(
    "template, route, column",
    [
        # regression: every licensed row counted; 742.6(b)(10)(iii)(B)(1) counts "the TPP of 3A090.a, 4A090.a, and
        # corresponding .z items licensed to each destination"
        (SHARED_CASES / "tier2-licence-within-allocation.yaml", "licence", "country_tpp_already_allocated"),
        # regression: every NVEU row counted; 748.15(a)(2)(iii)(B): the allocation is "measured by the collective
        # computing power of items subject to ECCNs 3A090.a, 4A090.a, or corresponding .z paragraphs"
        (OWN_CASES / "nveu-within-quarterly-ceiling.yaml", "NVEU", "cumulative_tpp"),
    ],
)
def test_a_b_level_row_adds_nothing_to_an_allocation(tmp_path, template, route, column):
    rows = _rows(
        template,
        [("a1", "2025-06-01", 10000), ("b1", "2025-06-02", 10000), ("a2", "2025-06-03", 10000)],
        claimed_route=route,
    )
    rows[1]["transaction.item"] = "3A090.b"
    result, _ = _screen(tmp_path, rows)
    by_id = {r["id"]: r for r in result.rows}
    assert by_id["a2"][f"ledger.{column}"] == 158_320_000
    if route == "licence":  # a .b row is in no allocation period at all
        assert by_id["b1"][f"ledger.{column}"] is None


def test_nveu_totals_per_authorization(tmp_path):
    rows = _rows(
        OWN_CASES / "nveu-within-quarterly-ceiling.yaml",
        [("n1", "2025-06-01", 10000), ("n2", "2025-06-02", 10000), ("n3", "2025-06-03", 40000)],
        claimed_route="NVEU",
    )
    result, _ = _screen(tmp_path, rows)
    assert [r["ledger.cumulative_tpp"] for r in result.rows] == [0, 158_320_000, 316_640_000]
    assert [r["claimed_route_ok"] for r in result.rows] == [True, True, False]
    (breach,) = result.ledger.breaches
    # 316,640,000 + 40,000 x 15,832 = 949,920,000 TPP, over 2025 Q2's 949,500,000 (748.15(a)(2)(iii)(B)); alone within it
    assert breach.id == "n3" and "exceeds the quarter's NVEU allocation of 949,500,000 TPP" in breach.why


def test_a_claimed_route_needs_a_date_and_a_known_route(tmp_path):
    rows = _rows(
        SHARED_CASES / "lpp-under-annual-limit.yaml", [("a", None, 10), ("b", "2025-06-01", 10)], claimed_route="LPP"
    )
    rows[1]["claimed_route"] = "XYZ"
    result, _ = _screen(tmp_path, rows)
    assert [(b.row, b.field) for b in result.bad] == [(1, "date"), (2, "claimed_route")]
