"""Benchmark: load times, cold CLI, warm per-case decide on the shipped cases and on 1,000 generated cases,
and a baseline that builds a fresh engine for every case. Prints figures; asserts nothing.

    .venv/bin/python bench/decide.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(fn, *args):
    t = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    from aidkb import ontology
    from aidkb.kb.engine import Engine
    from aidkb.kb.program import load_program
    from aidkb.queries.case import load_case
    from aidkb.queries.decide import decide, engine_for
    from aidkb.queries.reform import Reform
    from bench.cases import random_cases

    print(f"import of the packages:               {ms(time.perf_counter() - t0)}")

    t, onto = timed(ontology.load)
    print(f"ontology from facts.json:             {ms(t)}")
    t, _ = timed(lambda: ontology.Ontology.from_graph(ontology.source_graph()))
    print(f"ontology through SPARQL (no cache):   {ms(t)}")
    t, program = timed(load_program)
    print(f"rules: parse + check ({len(program.rules)} rules):    {ms(t)}")
    t, _ = timed(lambda: Engine(program, onto.facts()))
    print(f"engine: compile + {len(onto.facts())} base facts:   {ms(t)}")

    shared = sorted((ROOT / "tests" / "shared_cases").glob("*.yaml"))
    own = sorted((ROOT / "tests" / "cases").glob("*.yaml"))
    exe = Path(sys.executable).parent / "aidkb"
    cold_one, cold_all = [], []
    for _ in range(args.repeat):
        cold_one.append(_run([str(exe), "decide", str(shared[0]), "--json"]))
        cold_all.append(_run([str(exe), "decide", str(shared[0].parent), "--json"]))
    print(f"cold CLI, one case (median of {args.repeat}):   {ms(statistics.median(cold_one))}")
    print(f"cold CLI, {len(shared)} shared cases (median):   {ms(statistics.median(cold_all))}")

    cases = [load_case(p) for p in shared + own]
    for c in cases:  # warm up every scenario engine the cases need
        decide(c)
    per_case = []
    for _ in range(args.repeat):
        for c in cases:
            per_case.append(timed(decide, c)[0])
    print(
        f"warm decide, {len(cases)} shipped cases x {args.repeat}: median {ms(statistics.median(per_case))}, "
        f"p95 {ms(pct(per_case, 0.95))}"
    )

    batch = random_cases(args.batch)
    engine_for(Reform())
    times = [timed(decide, c)[0] for c in batch]
    print(
        f"warm decide, {len(batch)} generated cases:    median {ms(statistics.median(times))}, "
        f"p95 {ms(pct(times, 0.95))}, total {sum(times):.2f} s"
    )

    fresh = []
    import aidkb.queries.decide as qd

    for c in cases[: min(30, len(cases))]:
        t = time.perf_counter()
        qd._local.__dict__.pop("engines", None)  # baseline: no engine reuse
        decide(c)
        fresh.append(time.perf_counter() - t)
    warm_median = statistics.median(per_case)
    print(
        f"baseline, fresh engine per case:      median {ms(statistics.median(fresh))} "
        f"({statistics.median(fresh) / warm_median:.1f}x the warm median)"
    )


def _run(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
