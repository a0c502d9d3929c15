"""`aidkb`: the JSON contract of decide, legal tests, and bad input: exit 2, one `error:` line naming the file
and the field, no traceback, nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aidkb.app.cli import main

from ..conftest import ROOT, SHARED_CASES

GOOD = SHARED_CASES / "lpp-under-annual-limit.yaml"
KEYS = {"id", "license_required", "authorized_by", "not_available", "red_flags", "citations", "status"}


def run(capsys, *args):
    code = main(list(map(str, args)))
    out, err = capsys.readouterr()
    return code, out, err


def test_decide_json_one_file_is_an_object(capsys):
    code, out, err = run(capsys, "decide", GOOD, "--json")
    assert code == 0 and err == ""
    d = json.loads(out)
    assert KEYS <= set(d) and d["id"] == "lpp-under-annual-limit"
    assert d["license_required"] is True and d["authorized_by"] == ["LPP"]
    assert "15 CFR 740.29" in d["citations"] and "AIA" in d["not_available"]
    assert "13 May 2025" in d["status"] or "2025-05-13" in d["status"]


def test_decide_json_several_files_is_an_array(capsys):
    code, out, _ = run(capsys, "decide", GOOD, SHARED_CASES / "tier3-china-datacenter.yaml", "--json")
    assert code == 0 and [d["id"] for d in json.loads(out)] == ["lpp-under-annual-limit", "tier3-china-datacenter"]


def test_decide_text(capsys):
    code, out, _ = run(capsys, "decide", GOOD)
    assert code == 0 and "lifted by LPP" in out and "15 CFR 740.29" in out


def test_decide_is_deterministic(capsys):
    first = run(capsys, "decide", SHARED_CASES, "--json")[1]
    assert run(capsys, "decide", SHARED_CASES, "--json")[1] == first


def test_aidkb_test_counts_and_fails(capsys, tmp_path):
    code, out, _ = run(capsys, "test", SHARED_CASES)
    assert code == 0 and out.strip().splitlines()[-1] == "29 passed, 0 failed"
    case = yaml.safe_load(GOOD.read_text())
    case["expected"]["authorized_by"] = []
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(case))
    code, out, _ = run(capsys, "test", tmp_path)
    assert code == 1 and "FAIL" in out and out.strip().endswith("0 passed, 1 failed")


def _case(**changes) -> dict:
    case = yaml.safe_load(GOOD.read_text())
    for path, value in changes.items():
        node = case
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return case


_DELETE = object()
BAD = {
    "missing_field": (_case(as_of=_DELETE), "as_of", "missing"),
    "mistyped_field": (_case(transaction__destinaton_country="MY"), "transaction.destinaton_country", "unknown field"),
    "wrong_type": (
        _case(transaction__gov_to_gov_arrangement="yes"),
        "transaction.gov_to_gov_arrangement",
        "true or false",
    ),
    "unknown_country": (
        _case(transaction__destination_country="XX"),
        "transaction.destination_country",
        "unknown country",
    ),
    "unknown_eccn": (_case(transaction__item="3A090.x"), "transaction.item", "unknown ECCN paragraph"),
    "entry_without_paragraph": (
        _case(transaction__item="3A090"),
        "transaction.item",
        "name one of 3A090.a, 3A090.b, 3A090.c",
    ),
    "negative_quantity": (_case(transaction__quantity=-5), "transaction.quantity", "less than 1"),
    "absurd_quantity": (_case(transaction__quantity=10**12), "transaction.quantity", "absurdly large"),
    "negative_ytd": (
        _case(transaction__consignee_tpp_already_this_year=-1),
        "consignee_tpp_already_this_year",
        "less than 0",
    ),
    "bad_mode": (_case(mode="as_drafted"), "mode", "not one of"),
    "bad_date": (_case(as_of="2025-02-30"), "as_of", "date"),
    "ownership_loop": (
        _case(
            transaction__end_user__parent_chain=[
                {"name": "A Ltd", "hq_country": "SG"},
                {"name": "A Ltd", "hq_country": "MY"},
            ]
        ),
        "transaction.end_user.parent_chain[1].name",
        "loops",
    ),
    "chain_loops_to_end_user": (
        _case(transaction__end_user__parent_chain=[{"name": "Example Sdn Bhd", "hq_country": "MY"}]),
        "parent_chain[0].name",
        "loops",
    ),
    "unknown_flag": (_case(transaction__facts=["unknown_end_usr"]), "transaction.facts[0]", "unknown fact"),
    "unsupported_what_if": (_case(what_if={"abolish_bis": {"now": True}}), "what_if.abolish_bis", "unsupported"),
    "what_if_unknown_rule": (
        _case(what_if={"disable_rule": {"id": "no_such_rule"}}),
        "what_if.disable_rule.id",
        "no rule",
    ),
    "what_if_unknown_parameter": (
        _case(what_if={"set_parameter": {"name": "lpp_limit", "value": 1}}),
        "what_if.set_parameter.name",
        "unknown parameter",
    ),
    "inconsistent_holdings": (
        _case(
            transaction__end_user__veu="UVEU",
            transaction__end_user__veu_holdings={"global_tpp": 10, "tier1_tpp": 20, "us_tpp": 0, "destination_tpp": 0},
        ),
        "veu_holdings.tier1_tpp",
        "more than",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_case_is_rejected_with_one_clear_line(capsys, tmp_path, name):
    data, field, words = BAD[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    before = sorted(tmp_path.iterdir())
    code, out, err = run(capsys, "decide", path, "--json")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and field in lines[0] and words in lines[0], err
    assert sorted(tmp_path.iterdir()) == before


def test_malformed_yaml(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\ntransaction: [unclosed\n")
    code, out, err = run(capsys, "decide", path)
    assert code == 2 and out == "" and err.startswith(f"error: {path}: malformed YAML: line") and err.count("\n") == 1


def test_not_a_mapping(capsys, tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    code, _, err = run(capsys, "decide", path)
    assert code == 2 and "must be a mapping" in err


def test_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "decide", tmp_path / "nope.yaml")
    assert code == 2 and err.startswith("error:") and "nope.yaml" in err


def test_one_bad_file_among_good_ones_answers_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_case(transaction__item="9Z999")))
    code, out, err = run(capsys, "decide", GOOD, bad, "--json")
    assert code == 2 and out == "" and "transaction.item" in err


def test_duplicate_case_ids(capsys):
    code, _, err = run(capsys, "decide", GOOD, GOOD)
    assert code == 2 and "id" in err


def test_broken_rule_file(capsys, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "kb" / "rules", rules)
    (rules / "740_29_lpp.dl").write_text(
        (rules / "740_29_lpp.dl").read_text().replace("Total <= Limit ?", "Total <= ?")
    )
    code, out, err = run(capsys, "decide", GOOD, "--rules", rules)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {rules / '740_29_lpp.dl'}:") and err.count("\n") == 1


def test_rule_file_with_unsafe_rule(capsys, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "kb" / "rules", rules)
    (rules / "zz_extra.dl").write_text(
        '@rule bad\n@cite "15 CFR 740.29"\n@says "x"\neligible(C, "LPP") :- case(C), not hq(C, H).\n'
    )
    code, _, err = run(capsys, "rules", "--rules", rules)
    assert code == 2 and "zz_extra.dl:4:" in err and "unsafe negation" in err


def test_console_script_prints_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_case(transaction__destination_country="ZZ")))
    exe = Path(sys.executable).parent / "aidkb"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "aidkb.app.cli"]
    r = subprocess.run(
        cmd + ["decide", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("error:") and "transaction.destination_country" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def _portfolio(tmp_path, n: int = 40, bad_row: int | None = None) -> Path:
    from bench.scale import case_dicts, flatten

    from .test_screen import write_portfolio

    rows = [flatten(c) for c in case_dicts(n, seed=7)]
    if bad_row is not None:
        rows[bad_row - 1]["transaction.item"] = 12
    path = tmp_path / "portfolio.jsonl"
    write_portfolio(rows, path)
    return path


def test_screen_writes_one_row_per_transaction_as_decide_decides(capsys, tmp_path):
    import csv

    from aidkb.queries.decide import decide
    from aidkb.queries.screen import case_for_row

    portfolio = _portfolio(tmp_path)
    code, out, err = run(capsys, "screen", portfolio, "--out", tmp_path / "out.csv")
    assert code == 0 and out == "" and "40 rows screened, 0 bad" in err
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert len(rows) == 40
    for row in rows[::9]:
        d = decide(case_for_row(portfolio, row["id"]))
        assert row["license_required"] == str(d.license_required).lower()
        assert json.loads(row["authorized_by"]) == list(d.authorized_by)
        assert json.loads(row["citations"]) == list(d.citations)


def test_screen_reports_a_bad_row_by_number_and_field_and_keeps_it(capsys, tmp_path):
    code, out, err = run(capsys, "screen", _portfolio(tmp_path, 10, bad_row=4), "--no-reasons")
    assert code == 1
    assert "error: " in err and "row 4" in err and "transaction.item" in err and "Traceback" not in err
    lines = out.splitlines()
    assert len(lines) == 11 and "row 4" in lines[4]  # the header, then every row; the bad one with its error


def test_screen_strict_stops_at_the_first_bad_row(capsys, tmp_path):
    code, out, err = run(capsys, "screen", _portfolio(tmp_path, 10, bad_row=4), "--strict")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: ") and "row 4: transaction.item" in err


def test_screen_bad_output_name_and_missing_file(capsys, tmp_path):
    code, _, err = run(capsys, "screen", _portfolio(tmp_path, 2), "--out", tmp_path / "out.txt")
    assert code == 2 and "--out" in err and err.startswith("error: ")
    code, _, err = run(capsys, "screen", tmp_path / "none.csv")
    assert code == 2 and "none.csv" in err and "no such file" in err


def test_explain_a_portfolio_row(capsys, tmp_path):
    from aidkb.queries.screen import case_for_row

    portfolio = _portfolio(tmp_path, 5)
    case = case_for_row(portfolio, "2")
    code, out, _ = run(capsys, "explain", portfolio, "--row", case.id, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    from aidkb.queries.checker import check_proof

    assert doc["question"]["case"] == case.id and check_proof(doc).valid
    code, _, err = run(capsys, "explain", portfolio, "--row", "no-such-row")
    assert code == 2 and "no row with id 'no-such-row'" in err


def _slow_for_one(case, rules):
    """_decide, but the case `tier3-china-datacenter` never answers (a stand-in for an engine that hangs)."""
    import time

    from aidkb.app.cli import _program
    from aidkb.queries.decide import decide

    if case.id == "tier3-china-datacenter":
        time.sleep(3600)
    return decide(case, _program(rules))


@pytest.mark.slow
def test_a_case_that_overruns_fails_alone_with_its_file_named(capsys, monkeypatch):
    import functools

    import aidkb.app.cli
    from aidkb.kb.deadline import Worker

    monkeypatch.setattr(aidkb.app.cli, "_decide", _slow_for_one)
    monkeypatch.setattr(aidkb.app.cli, "Worker", functools.partial(Worker, seconds=10))
    slow = SHARED_CASES / "tier3-china-datacenter.yaml"
    code, out, err = run(capsys, "decide", GOOD, slow, SHARED_CASES / "tier3-macau-small-order.yaml", "--json")
    assert code == 2
    assert [d["id"] for d in json.loads(out)] == ["lpp-under-annual-limit", "tier3-macau-small-order"]
    assert err.count("error: ") == 1 and str(slow) in err and "no answer within 10 s" in err


def test_main_leaves_sigpipe_alone(capsys):
    """Regression: main() used to reset SIGPIPE to its default, so a write to a dead worker's pipe (or pytest's own)
    ended the whole process silently (exit 141) instead of raising BrokenPipeError."""
    import signal

    before = signal.getsignal(signal.SIGPIPE)
    run(capsys, "rules")
    assert signal.getsignal(signal.SIGPIPE) == before


def test_output_cut_short_by_its_reader_ends_quietly():
    exe = Path(sys.executable).parent / "aidkb"
    reader = subprocess.Popen(["head", "-c", "10"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc = subprocess.run(
        [str(exe), "decide", str(ROOT / "tests" / "cases"), "--json"],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in proc.stderr and proc.returncode in (0, 1)


def test_check_proof_checks_the_answer_fields_of_a_decision(capsys, tmp_path):
    """Regression: `aidkb check-proof` on a `decide --json` document with an answer flipped said "valid proof"."""
    code, out, _ = run(capsys, "decide", GOOD, "--json")
    doc = json.loads(out)
    (tmp_path / "good.json").write_text(json.dumps(doc))
    code, out, _ = run(capsys, "check-proof", tmp_path / "good.json")
    assert code == 0 and "valid proof" in out
    doc["license_required"] = False
    (tmp_path / "flipped.json").write_text(json.dumps(doc))
    code, out, _ = run(capsys, "check-proof", tmp_path / "flipped.json")
    assert code == 1 and "INVALID" in out and "license_required" in out


def test_check_proof_bad_documents_get_one_error_line(capsys, tmp_path):
    for name, text in (
        ("digits", '{"format": "proof.v1", "n": ' + "7" * 5000 + "}"),
        ("deep", "[" * 50_000),
        ("broken", "{"),
    ):
        (tmp_path / f"{name}.json").write_text(text)
        code, out, err = run(capsys, "check-proof", tmp_path / f"{name}.json")
        assert code in (1, 2) and "Traceback" not in out + err
        assert (err.startswith("error: ") and err.count("\n") == 1) if code == 2 else out.count("\n") == 1
