"""Benchmark: the impact of one tier move over the whole grid (249 countries x 4 item classes x 84 end-user
profiles = 83,664 outcomes, baseline and reform), two ways:
  (1) naive: decide every grid point one at a time, baseline and reform (timed on a random sample of points
      and extrapolated to the grid, unless --full);
  (2) this design: grid classes evaluated set at a time, baseline classes reused, only the classes whose
      listings the move changed evaluated again (timed with the baseline warm, and cold: computed, and read
      from the store of answers, kb/sql/store.py, as a fresh process reads it).
Medians of --repeat runs, CPU time beside wall time (the machine is shared). Runs with a store of its own (an
empty temporary directory). Prints figures; asserts nothing.
    .venv/bin/python bench/impact.py [--sample 1500] [--full] [--move MY:1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
STORE = tempfile.mkdtemp(prefix="aidkb-bench-")
os.environ["AIDKB_SQL_STORE"] = STORE  # read at the engine's first use: this run starts with an empty store

from aidkb.queries.impact import (  # noqa: E402
    GRID_ITEMS,
    GRID_PROFILES,
    _Baseline,
    baseline_classes,
    grid,
    grid_case,
    grid_flips,
    outcomes,
)
from aidkb.queries.reform import Reform  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=1500)
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--move", default="MY:1")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    country, tier = args.move.split(":")
    reform = Reform().move_country(country, int(tier))
    points = grid()
    print(
        f"grid: {len(points):,} points ({len(set(p.country for p in points))} countries x {len(GRID_ITEMS)} items "
        f"x {len(GRID_PROFILES)} profiles); reform: {'; '.join(reform.describe())}"
    )

    t, c = time.perf_counter(), time.process_time()
    baseline_classes()
    cold_baseline, cold_cpu = time.perf_counter() - t, time.process_time() - c
    stored = []
    for _ in range(args.repeat):
        _Baseline.by_key.clear()
        t, c = time.perf_counter(), time.process_time()
        baseline_classes()
        stored.append((time.perf_counter() - t, time.process_time() - c))
    runs = []
    for i in range(args.repeat):
        moved = (
            Reform().move_country(country, int(tier)).set_parameter("lpp_annual_tpp_limit", 26_900_000 + i)
            if i
            else reform
        )  # each run computed: a reform asked before is read from the store
        t, c = time.perf_counter(), time.process_time()
        flips, compared, evaluated = grid_flips(moved)
        runs.append((time.perf_counter() - t, time.process_time() - c))
        if not i:
            first = (len(flips), evaluated)
    print(
        f"(2) design, baseline warm: {runs[0][0]:.2f} s ({runs[0][1]:.2f} s CPU) for the move "
        f"({first[1]} classes evaluated, {first[0]:,} flips); the move with a parameter set (every class "
        f"evaluated): median {statistics.median(r[0] for r in runs[1:]) if runs[1:] else float('nan'):.2f} s"
    )
    print(
        f"    baseline grid classes computed (first time on a machine): {cold_baseline:.2f} s ({cold_cpu:.2f} s "
        f"CPU); read from the store (any later process): median {statistics.median(s[0] for s in stored):.2f} s "
        f"({statistics.median(s[1] for s in stored):.2f} s CPU)"
    )
    design = runs[0][0]  # the move alone, as in (1)

    sample = points if args.full else random.Random(7).sample(points, args.sample)
    t = time.perf_counter()
    for g in sample:
        case = grid_case(g)
        outcomes([case], Reform(), batch=1)
        outcomes([case], reform, batch=1)
    naive_sample = time.perf_counter() - t
    naive = naive_sample / len(sample) * len(points)
    label = "measured" if args.full else f"extrapolated from {len(sample):,} points ({naive_sample:.1f} s)"
    print(f"(1) naive loop, each point decided one at a time, baseline and reform: {naive:.1f} s ({label})")
    print(
        f"ratio naive / design: {naive / design:.0f}x (warm baseline), {naive / (cold_baseline + design):.0f}x (cold)"
    )
    _Baseline.by_key.clear()
    shutil.rmtree(STORE, ignore_errors=True)


if __name__ == "__main__":
    main()
