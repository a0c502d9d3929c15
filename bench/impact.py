"""Benchmark: the impact of one tier move over the whole grid (249 countries x 4 item classes x 84 end-user
profiles = 83,664 outcomes, baseline and reform), two ways:
  (1) naive: decide every grid point one at a time, baseline and reform (timed on a random sample of points
      and extrapolated to the grid, unless --full);
  (2) this design: grid classes evaluated set at a time, baseline classes reused, only the classes whose
      listings the move changed evaluated again (timed with the baseline warm, and cold).
Prints figures; asserts nothing.   .venv/bin/python bench/impact.py [--sample 1500] [--full] [--move MY:1]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queries.impact import GRID_ITEMS, GRID_PROFILES, _Baseline, baseline_classes, grid, grid_case, grid_flips, outcomes  # noqa: E402
from queries.reform import Reform  # noqa: E402


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
    print(f"grid: {len(points):,} points ({len(set(p.country for p in points))} countries x {len(GRID_ITEMS)} items "
          f"x {len(GRID_PROFILES)} profiles); reform: {'; '.join(reform.describe())}")

    t = time.perf_counter()
    baseline_classes()
    cold_baseline = time.perf_counter() - t
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        flips, compared, evaluated = grid_flips(reform)
        runs.append(time.perf_counter() - t)
    design = statistics.median(runs)
    print(f"(2) design, baseline warm: median {design:.2f} s of {args.repeat} "
          f"({evaluated} classes evaluated, {len(flips):,} flips)")
    print(f"    baseline grid classes, computed once per process: {cold_baseline:.2f} s "
          f"(cold total {cold_baseline + design:.2f} s)")

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
    print(f"ratio naive / design: {naive / design:.0f}x (warm baseline), "
          f"{naive / (cold_baseline + design):.0f}x (cold)")
    _Baseline.by_key.clear()


if __name__ == "__main__":
    main()
