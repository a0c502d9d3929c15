"""Benchmark: the set-at-a-time engine against the per-case engine, at 10^4, 10^5 and 10^6 transactions.

Prints, for each size, screening a generated CSV portfolio end to end (`aidkb screen --no-reasons`): the
column-wise validation, the facts as Arrow tables, the SQL engine, the whole run (reading to writing the output),
wall and CPU time, and the process's peak memory on DuckDB (and on Spark local mode for 10^5), the per-case
engine's time extrapolated from a sample (pyDatalog through aidkb.queries.decide, with proofs), and the ratio. First
the grid what-ifs through the SQL engine, per kind of reform: in a fresh process (the baseline grid classes
read from the store of answers, kb/sql/store.py), warm, and asked again. Each figure is measured in fresh
processes (medians). Asserts nothing.

    .venv/bin/python bench/scale.py [--sizes 10000,100000,1000000] [--spark 100000] [--sample 200]
                                    [--repeat 3] [--size-repeat 1] [--grid | --portfolios]

Transactions are generated from the bundled case files (tests/cases, tests/shared_cases) as templates, with
dates, modes, countries and figures drawn at random and every row validated like a case file; a row the
validator refuses is drawn again. So the generator follows the case contract as it changes.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATES = ("2024-06-01", "2025-01-10", "2025-03-01", "2025-06-01", "2026-03-01", "2026-08-01")
FOCUS = ("MY", "SG", "IN", "AE", "DE", "JP", "FR", "BR", "CN", "MO", "VN", "IL", "US", "SA", "KH")


def templates() -> list[dict]:
    """The bundled case files as plain mappings, without their expectations and what-ifs."""
    from aidkb.queries.reader import read_document

    out = []
    for path in sorted((ROOT / "tests" / "cases").glob("*.yaml")) + sorted(
        (ROOT / "tests" / "shared_cases").glob("*.yaml")
    ):
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
    """n valid case mappings (validated with aidkb.queries.case.parse_case, the case files' validator)."""
    from aidkb import ontology
    from aidkb.queries.case import CaseError, parse_case

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
    ap.add_argument("--portfolios", action="store_true", help="only the portfolio sizes")
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per grid figure (medians)")
    ap.add_argument("--size-repeat", type=int, default=1, help="fresh processes per portfolio size (medians)")
    ap.add_argument("--one", help="internal: run one size (or the grid) in this process and print its figures")
    args = ap.parse_args()
    if args.one in ("whatif", "whatif+causes"):
        _whatif(causes=args.one == "whatif+causes")
        return
    if args.one == "grid-baseline":
        _grid_baseline()
        return
    if args.one == "case-baselines":
        _case_baselines()
        return
    if args.one and args.one.startswith("grid:"):
        _grid_kind(args.one.removeprefix("grid:"))
        return
    if args.one and args.one.startswith("portfolio:"):
        _, size, path = args.one.split(":", 2)
        portfolio(int(size), Path(path))
        return
    if args.one:
        backend, size = args.one.split(":")
        _one(backend, int(size))
        return
    if not args.portfolios:
        grid_figures(args.repeat)
    if args.grid:
        return
    per_case = _per_case(args.sample)
    print(
        f"per-case engine (pyDatalog, aidkb.queries.decide with proofs): {per_case * 1000:.1f} ms a case "
        f"(mean of {args.sample} generated cases)"
    )
    spark = {int(s) for s in args.spark.split(",") if s}
    print(
        f"screening generated portfolios (CSV; `aidkb screen --no-reasons`, medians of {args.size_repeat} fresh "
        "processes; CPU time is this process's, DuckDB's threads included, Spark's JVM not):"
    )
    print(
        "| transactions | validate (columns) wall (CPU) | facts to Arrow wall (CPU) | SQL engine wall (CPU) | "
        "end to end wall (CPU) | peak memory | per-case engine (extrapolated) | ratio (SQL / end to end) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for backend in ("duckdb",) + (("spark",) if size in spark else ()):
            try:
                runs = [
                    _figures(["--one", f"{backend}:{size}"], dict(os.environ, AIDKB_SQL_STORE="off"))
                    for _ in range(args.size_repeat)
                ]
            except RuntimeError as e:
                print(f"| {size:,}, {backend} | failed: {e} |")
                continue

            def med(name: str) -> float:
                return statistics.median(run[name] for run in runs)

            sql, total, extrapolated = med("sql_s"), med("total_s"), per_case * size
            name = "DuckDB" if backend == "duckdb" else "Spark local"
            print(
                f"| {size:,}, {name} | {med('validate_s'):.2f} s ({med('validate_cpu'):.2f}) | "
                f"{med('facts_s'):.2f} s ({med('facts_cpu'):.2f}) | {sql:.2f} s ({med('sql_cpu'):.2f}) | "
                f"{total:.2f} s ({med('total_cpu'):.2f}) | {med('peak_mb'):,.0f} MB | {extrapolated:,.0f} s | "
                f"{extrapolated / sql:,.0f}x / {extrapolated / total:,.0f}x |"
            )


def _edited(rule_id: str):
    """The rule replaced by its own clause without its failure texts: a rule edit that changes no answer, but
    a new program (compiled and evaluated again)."""
    import json

    from aidkb.kb.program import baseline_program

    def make(reform):
        rule = baseline_program().rule(rule_id)
        text = f"@rule {rule.id}\n@cite {json.dumps(rule.cites[0])}\n@says {json.dumps(rule.says)}\n{rule.text()}"
        return reform.replace_rule(rule_id, text)

    return make


def _moved(country: str):
    return lambda r: r.move_country(country, 1)


def _limit(value: int):
    return lambda r: r.set_parameter("lpp_annual_tpp_limit", value)


def _off(rule_id: str):
    return lambda r: r.disable_rule(rule_id)


# per kind of reform: the first is run in a fresh process, the others after it (warm); all differ, so that each
# is computed (the store of answers, kb/sql/store.py, holds the baseline only)
REFORMS = {
    "tier move": (_moved("MY"), _moved("IN"), _moved("AE"), _moved("VN")),
    "parameter": (_limit(40_000_000), _limit(30_000_000), _limit(50_000_000), _limit(20_000_000)),
    "rule off": (_off("lpp_authorizes"), _off("nveu_authorizes"), _off("uveu_authorizes"), _off("lpp_conditions")),
    "rule edit": (
        _edited("lpp_authorizes"),
        _edited("nveu_authorizes"),
        _edited("uveu_authorizes"),
        _edited("lpp_conditions"),
    ),
}


def _timed(call) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def _grid_baseline() -> None:
    """In a fresh process with an empty store: the baseline grid classes computed (and stored)."""
    wall, cpu, _ = _timed(lambda: __import__("aidkb.queries.impact", fromlist=["baseline_classes"]).baseline_classes())
    print(f"wall={wall:.3f} cpu={cpu:.3f}")


def _bundled() -> list[Path]:
    """The bundled case files, as the app's What-if page reads them."""
    return sorted((ROOT / "tests" / "cases").glob("*.yaml")) + sorted((ROOT / "tests" / "shared_cases").glob("*.yaml"))


def _case_baselines() -> None:
    """The bundled cases' baseline outcomes computed (and stored), as the app's first session does once."""
    from aidkb.queries.case import load_case
    from aidkb.queries.impact import case_outcomes

    wall, cpu, _ = _timed(lambda: case_outcomes([load_case(p) for p in _bundled()]))
    print(f"wall={wall:.3f} cpu={cpu:.3f}")


def _grid_kind(kind: str) -> None:
    """In a fresh process whose store holds the baseline: the first reform of a kind (fresh), the others
    (warm), then the first again (its answers now stored)."""
    wall, cpu, _ = _timed(lambda: (__import__("aidkb.queries.impact"), __import__("aidkb.queries.reform")))
    from aidkb.queries.impact import grid_flips
    from aidkb.queries.reform import Reform

    figures = [f"imports={wall:.3f}"]
    for i, make in enumerate(REFORMS[kind] + REFORMS[kind][:1]):
        reform = make(Reform())
        wall, cpu, (flips, points, evaluated) = _timed(lambda: grid_flips(reform))
        label = "fresh" if i == 0 else "stored" if i == len(REFORMS[kind]) else f"warm{i}"
        figures += [
            f"{label}_wall={wall:.3f}",
            f"{label}_cpu={cpu:.3f}",
            f"{label}_classes={evaluated}",
            f"{label}_flips={len(flips)}",
        ]
    print(" ".join(figures))


def _whatif(causes: bool) -> None:
    """In a fresh process whose store holds the baselines (the grid classes and the bundled cases, as on any
    machine after the first run): a What-if run as the app's first one in a new session worker (the baselines
    read, then a tier move over the bundled cases and the grid through aidkb.queries.impact.impact_report, causes
    left to the flips the user opens); with `causes`, then the causes of every flip from the proof engine (as
    `aidkb impact` gives them)."""
    wall, cpu, _ = _timed(lambda: (__import__("aidkb.queries.impact"), __import__("aidkb.queries.reform")))
    from aidkb.queries.case import load_case
    from aidkb.queries.impact import GRID_AS_OF, _explain, baseline_classes, case_outcomes, impact_report
    from aidkb.queries.reform import Reform

    figures = [f"imports_wall={wall:.3f}", f"imports_cpu={cpu:.3f}"]
    cases = [load_case(p) for p in _bundled()]
    wall, cpu, (grid, before) = _timed(lambda: (baseline_classes(), case_outcomes(cases)))
    figures += [f"baselines_wall={wall:.3f}", f"baselines_cpu={cpu:.3f}"]
    reform = Reform().move_country("MY", 1)
    wall, cpu, (found, _) = _timed(lambda: impact_report(reform, cases, True, GRID_AS_OF, "as_published", grid, before))
    figures += [f"run_wall={wall:.3f}", f"run_cpu={cpu:.3f}", f"flips={len(found.flips)}"]
    if causes:
        wall, cpu, _ = _timed(lambda: _explain(reform, found.flips, _grid_points(found.flips), cases, 200))
        figures += [f"causes_wall={wall:.3f}", f"causes_cpu={cpu:.3f}"]
    print(" ".join(figures))


def _grid_points(flips) -> dict:
    from aidkb.queries.impact import grid_point

    return {id(f): g for f in flips if (g := grid_point(f.key)) is not None}


def _figures(args: list[str], env: dict) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1:])
    return {k: float(v) for k, v in (w.split("=", 1) for w in out.stdout.split() if "=" in w)}


def grid_figures(repeat: int) -> None:
    """The grid what-ifs, each kind of reform in `repeat` fresh processes (medians; CPU time beside the wall
    time, as the machine is shared). Each process gets a store holding only the baseline grid classes, as any
    process after the first on a machine has."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="aidkb-bench-"))
    try:
        baseline = [
            _figures(["--one", "grid-baseline"], dict(os.environ, AIDKB_SQL_STORE=str(root / f"b{r}")))
            for r in range(repeat)
        ]
        print(
            f"grid baseline classes, first time on a machine (computed, then stored): median "
            f"{statistics.median(b['wall'] for b in baseline):.2f} s wall, "
            f"{statistics.median(b['cpu'] for b in baseline):.2f} s CPU ({repeat} fresh processes)"
        )
        print(f"grid what-if (83,664 points, baseline and reform), medians of {repeat} fresh processes, wall (CPU) s:")
        print("| reform | classes | flips | fresh process | warm | same reform again (stored) | imports |")
        print("|---|---|---|---|---|---|---|")
        for kind in REFORMS:
            runs = []
            for r in range(repeat):
                store = root / f"{kind.replace(' ', '-')}{r}"
                shutil.copytree(root / "b0", store)
                runs.append(_figures(["--one", f"grid:{kind}"], dict(os.environ, AIDKB_SQL_STORE=str(store))))

            def med(name: str) -> float:
                return statistics.median(run[name] for run in runs)

            warm = [f"warm{i}" for i in range(1, len(REFORMS[kind]))]
            warm_wall = statistics.median(run[f"{w}_wall"] for run in runs for w in warm)
            warm_cpu = statistics.median(run[f"{w}_cpu"] for run in runs for w in warm)
            print(
                f"| {kind} | {med('fresh_classes'):,.0f} | {med('fresh_flips'):,.0f} | "
                f"{med('fresh_wall'):.2f} ({med('fresh_cpu'):.2f}) | {warm_wall:.2f} ({warm_cpu:.2f}) | "
                f"{med('stored_wall'):.2f} ({med('stored_cpu'):.2f}) | {med('imports'):.2f} |"
            )
        cases = root / "cases"  # the bundled cases' baselines, as any process after the first has them
        shutil.copytree(root / "b0", cases)
        _figures(["--one", "case-baselines"], dict(os.environ, AIDKB_SQL_STORE=str(cases)))
        runs = []
        for r in range(repeat):  # the causes (tens of seconds, the proof engine) in the first process only
            store = root / f"whatif{r}"
            shutil.copytree(cases, store)
            what = "whatif+causes" if r == 0 else "whatif"
            runs.append(_figures(["--one", what], dict(os.environ, AIDKB_SQL_STORE=str(store))))

        def median(name: str) -> float:
            return statistics.median(run[name] for run in runs)

        print(
            f"first What-if run in a fresh process, as the app's new session worker (move MY to Tier 1 over the "
            f"{len(_bundled()):,} bundled cases and the grid, aidkb.queries.impact.impact_report; baselines stored), "
            f"medians "
            f"of {repeat}, wall (CPU) s: imports {median('imports_wall'):.2f} ({median('imports_cpu'):.2f}), "
            f"baselines read {median('baselines_wall'):.2f} ({median('baselines_cpu'):.2f}), "
            f"the run {median('run_wall'):.2f} ({median('run_cpu'):.2f}), {runs[0]['flips']:,.0f} flips; "
            f"then the causes of every flip (proof engine, one process) {runs[0]['causes_wall']:.2f} "
            f"({runs[0]['causes_cpu']:.2f})"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _per_case(n: int) -> float:
    from aidkb import ontology
    from aidkb.queries.case import parse_case
    from aidkb.queries.decide import decide

    onto = ontology.load()
    cases = [parse_case(c, "<generated>", onto) for c in case_dicts(n, seed=7)]
    decide(cases[0])
    start = time.perf_counter()
    for c in cases:
        decide(c)
    return (time.perf_counter() - start) / len(cases)


def portfolio(size: int, path: Path) -> None:
    """`size` generated transactions (validated like case files, each id its own) written as a CSV portfolio,
    the flat form `aidkb screen` reads (lists as JSON text, numbers as their exact digits)."""
    import json

    import pyarrow as pa
    import pyarrow.csv as pcsv

    rows = [flatten(data) for data in case_dicts(size, seed=size)]

    def text(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, (list, dict)):
            return json.dumps(v)
        return str(v).lower() if isinstance(v, bool) else str(v)

    names = list(dict.fromkeys(k for row in rows for k in row))
    pcsv.write_csv(pa.table({n: pa.array([text(r.get(n)) for r in rows], pa.string()) for n in names}), path)


def _one(backend: str, size: int) -> None:
    """Screen a generated portfolio of `size` transactions (`aidkb screen --no-reasons`, aidkb.queries.screen.screen)
    in this process; print key=value figures: validation (column-wise, queries/columns.py), the facts as Arrow
    tables, the SQL engine, the whole run, wall and CPU time, and peak memory. The portfolio is written by
    another process first (generating it is not screening it, and its rows would inflate the peak)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="aidkb-scale-"))
    path = root / f"portfolio-{size}.csv"
    subprocess.run([sys.executable, __file__, "--one", f"portfolio:{size}:{path}"], check=True)
    from aidkb import ontology
    from aidkb.kb.program import baseline_program
    from aidkb.queries.screen import screen

    ontology.load(), baseline_program()  # loaded once per process, not part of a run
    try:
        result = screen(path, engine=backend, out_path=root / "out.csv", reasons=False)
    finally:
        for f in root.iterdir():
            f.unlink()
        root.rmdir()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = result.seconds
    print(
        f"validate_s={s['validation']:.3f} validate_cpu={s['validation_cpu']:.3f} facts_s={s['sql_facts']:.3f} "
        f"facts_cpu={s['sql_facts_cpu']:.3f} sql_s={s['sql_evaluation']:.3f} sql_cpu={s['sql_evaluation_cpu']:.3f} "
        f"total_s={s['total']:.3f} total_cpu={s['total_cpu']:.3f} peak_mb={peak:.0f} bad={len(result.bad)}"
    )


if __name__ == "__main__":
    main()
