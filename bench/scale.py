"""Benchmark: the set-at-a-time engine against the per-case engine, at 10^4, 10^5 and 10^6 transactions.

Prints, for each size: the time to validate the rows and build their facts (Python, per row), the SQL engine's
wall time and the process's peak memory on DuckDB (and on Spark local mode for 10^5), the per-case engine's
time extrapolated from a sample (pyDatalog through queries.decide, with proofs), and the ratio. Also the grid
what-ifs through the SQL engine. Asserts nothing.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--spark 100000] [--sample 200]

Transactions are generated from the bundled case files (tests/cases, tests/shared_cases) as templates, with
dates, modes, countries and figures drawn at random and every row validated like a case file; a row the
validator refuses is drawn again. So the generator follows the case contract as it changes.
"""
from __future__ import annotations

import argparse
import copy
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATES = ("2024-06-01", "2025-01-10", "2025-03-01", "2025-06-01", "2026-03-01", "2026-08-01")
FOCUS = ("MY", "SG", "IN", "AE", "DE", "JP", "FR", "BR", "CN", "MO", "VN", "IL", "US", "SA", "KH")


def templates() -> list[dict]:
    """The bundled case files as plain mappings, without their expectations and what-ifs."""
    from queries.reader import read_document

    out = []
    for path in sorted((ROOT / "tests" / "cases").glob("*.yaml")) + sorted((ROOT / "tests" / "shared_cases")
                                                                            .glob("*.yaml")):
        data = read_document(path)
        if isinstance(data, dict) and not data.get("what_if"):
            data.pop("expected", None)
            data.pop("what_if", None)
            data.pop("confidence", None)
            out.append(data)
    return out


def _draw(rng: random.Random, base: dict, countries: list[str], i: int) -> dict:
    case = copy.deepcopy(base)
    case["id"], case["title"] = f"tx-{i:07d}", f"generated transaction {i}"
    case["as_of"] = rng.choice(DATES)
    case["mode"] = rng.choice(("as_published", "as_published", "as_enforced"))
    t = case["transaction"]
    dest = rng.choice(FOCUS if rng.random() < 0.7 else countries)
    t["destination_country"] = dest
    if t.get("quantity") is not None:
        t["quantity"] = rng.choice((1, 10, 100, 1000, 5000, 20000))
    if t.get("tpp_per_unit") is not None:
        t["tpp_per_unit"] = rng.choice((3000, 5000, 15832, 21000, 60000, 126656))
    if "consignee_tpp_already_this_year" in t:
        t["consignee_tpp_already_this_year"] = rng.randrange(0, 30) * 10**6
    if "country_tpp_already_allocated" in t:
        t["country_tpp_already_allocated"] = rng.randrange(0, 900) * 10**6
    model = t.get("model")
    if isinstance(model, dict) and model.get("training_ops") is not None:
        model["training_ops"] = rng.choice((5 * 10**25, 10**26, 2 * 10**26, 3 * 10**26))
    eu = t.get("end_user") or {}
    eu["name"] = f"Buyer {i}"
    if not eu.get("parent_chain") and not eu.get("veu"):
        hq = rng.choice((dest, dest, "US", "CN", rng.choice(countries)))
        eu["hq_country"] = hq
        eu["ultimate_parent_hq_country"] = rng.choice((hq, hq, "US", "CN", "MO"))
    return case


def case_dicts(n: int, seed: int = 2025) -> list[dict]:
    """n valid case mappings (validated with queries.case.parse_case, the case files' validator)."""
    import ontology
    from queries.case import CaseError, parse_case

    rng = random.Random(seed)
    onto = ontology.load()
    countries = sorted(onto.countries)
    bases = templates()
    out: list[dict] = []
    while len(out) < n:
        case = _draw(rng, rng.choice(bases), countries, len(out))
        try:
            parse_case(copy.deepcopy(case), "<generated>", onto)
        except CaseError:
            continue
        out.append(case)
    return out


def flatten(case: dict, prefix: str = "") -> dict:
    """A case mapping as one portfolio row: dotted paths as column names (lists stay lists)."""
    row: dict = {}
    for key, value in case.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(flatten(value, name + "."))
        else:
            row[name] = value
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--spark", default="100000", help="sizes also run on Spark local mode ('' for none)")
    ap.add_argument("--sample", type=int, default=200, help="cases decided one at a time by the per-case engine")
    ap.add_argument("--grid", action="store_true", help="only the grid what-ifs")
    ap.add_argument("--one", help="internal: run one size (or 'grid') in this process and print its figures")
    args = ap.parse_args()
    if args.one == "grid":
        _grid()
        return
    if args.one:
        backend, size = args.one.split(":")
        _one(backend, int(size))
        return
    out = subprocess.run([sys.executable, __file__, "--one", "grid"], capture_output=True, text=True, check=False)
    print(out.stdout.strip() or out.stderr.strip().splitlines()[-1:])
    if args.grid:
        return
    per_case = _per_case(args.sample)
    print(f"per-case engine (pyDatalog, queries.decide with proofs): {per_case * 1000:.1f} ms a case "
          f"(mean of {args.sample} generated cases)")
    spark = {int(s) for s in args.spark.split(",") if s}
    for size in (int(s) for s in args.sizes.split(",")):
        for backend in ("duckdb",) + (("spark",) if size in spark else ()):
            out = subprocess.run([sys.executable, __file__, "--one", f"{backend}:{size}"], capture_output=True,
                                 check=False,
                                 text=True)
            if out.returncode:
                print(f"{backend} {size:,}: failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            figures = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
            sql, rows = float(figures["sql_s"]), float(figures["rows_s"])
            extrapolated = per_case * size
            print(f"{backend:6} {size:>9,} transactions: validate + facts {rows:6.1f} s, SQL engine {sql:6.2f} s, "
                  f"peak memory {float(figures['peak_mb']):,.0f} MB; per-case engine (extrapolated) "
                  f"{extrapolated:,.0f} s; ratio {extrapolated / sql:,.0f}x (SQL engine), "
                  f"{extrapolated / (sql + rows):,.0f}x (end to end)")


def _edited(reform, rule_id: str = "lpp_authorizes"):
    """The rule replaced by its own clause without its failure texts: a rule edit that changes no answer."""
    import json

    from kb.program import baseline_program

    rule = baseline_program().rule(rule_id)
    text = f"@rule {rule.id}\n@cite {json.dumps(rule.cites[0])}\n@says {json.dumps(rule.says)}\n{rule.text()}"
    return reform.replace_rule(rule_id, text)


REFORMS = (("tier move", lambda r: r.move_country("MY", 1)),
           ("parameter", lambda r: r.set_parameter("lpp_annual_tpp_limit", 40_000_000)),
           ("rule off", lambda r: r.disable_rule("lpp_authorizes")),
           ("rule edit", _edited))


def _grid() -> None:
    """Grid what-ifs through the SQL engine, in this fresh process: the first reform (baseline classes
    included), then each kind of reform warm."""
    start = time.perf_counter()
    from queries.impact import grid_flips
    from queries.reform import Reform

    imported = time.perf_counter() - start
    lines = []
    for i, (label, make) in enumerate(REFORMS * 2):
        reform = make(Reform())
        start = time.perf_counter()
        flips, points, evaluated = grid_flips(reform)
        took = time.perf_counter() - start
        state = "fresh process (imports " + f"{imported:.1f} s not counted)" if i == 0 else "warm"
        lines.append(f"grid what-if, {label:9} ({'; '.join(reform.describe())}): {took:5.2f} s {state}, "
                     f"{points:,} points, {evaluated:,} classes evaluated, {len(flips):,} flips")
    print("\n".join(lines))


def _per_case(n: int) -> float:
    import ontology
    from queries.case import parse_case
    from queries.decide import decide

    onto = ontology.load()
    cases = [parse_case(c, "<generated>", onto) for c in case_dicts(n, seed=7)]
    decide(cases[0])
    start = time.perf_counter()
    for c in cases:
        decide(c)
    return (time.perf_counter() - start) / len(cases)


def _one(backend: str, size: int) -> None:
    """Generate, validate and decide `size` transactions set at a time; print key=value figures."""
    import ontology
    from kb.program import baseline_program
    from kb.sqlengine import SqlEngine
    from queries.case import CaseError, parse_case

    onto = ontology.load()
    rng = random.Random(size)
    countries, bases = sorted(onto.countries), templates()
    drawing = [0.0]  # generating the rows is not part of screening them

    def facts():
        i = 0
        while i < size:
            start = time.perf_counter()
            data = _draw(rng, rng.choice(bases), countries, i)
            drawing[0] += time.perf_counter() - start
            try:
                found = parse_case(data, "<generated>", onto).facts()
            except CaseError:
                continue
            i += 1
            yield from found

    engine = SqlEngine(baseline_program(), onto.facts(), backend=backend, threads=2)
    start = time.perf_counter()
    answers = engine.evaluate(facts())
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = answers.seconds["facts"] - drawing[0]  # validating the rows, their facts, the facts as tables
    print(f"rows_s={rows:.3f} sql_s={answers.seconds['evaluation']:.3f} peak_mb={peak:.0f} total_s={total:.3f}")


if __name__ == "__main__":
    main()
