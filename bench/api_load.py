"""Load benchmark of the HTTP API: a real `aidkb serve` on 127.0.0.1, 8 concurrent clients, N requests.

    .venv/bin/python bench/api_load.py [--n 2000] [--clients 8] [--workers 2]

The requests are a mix of POST /v1/decide (every bundled case, some with a what-if), /v1/explain (proof.v1
JSON, and text with counterfactuals) and /v1/impact over cases (no grid). Every expected answer is computed
first, in this process, by aidkb.queries.service (the functions the command line runs) for the same JSON body, and
each answer from the server is compared with it. Prints p50/p95 latency (all, and per kind), throughput, the
error count (non-200 answers or transport errors) and the mismatch count. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REFORMS = (
    [{"move_country": {"country": "MY", "to_tier": 1}}],
    [{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 40_000_000}}],
    [{"disable_rule": {"id": "acm_supply_chain"}}],
)


def _json_text(value, key=None) -> str:
    """A case file's data as JSON text with exact numbers (see tests/api/conftest.py)."""
    from decimal import Decimal

    from aidkb.queries.reader import Numeral

    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json_text(v, k)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v, key) for v in value) + "]"
    if isinstance(value, Numeral) and key not in {"item", "id", "title", "name", "citations", "text", "explanation"}:
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def workload(seed: int) -> list[dict]:
    """Request kinds with their bodies and expected answers (computed here through aidkb.queries.service)."""
    from aidkb.queries import service
    from aidkb.queries.reader import load_json, read_document

    paths = sorted((ROOT / "tests" / "cases").glob("*.yaml")) + sorted(
        (ROOT.parent / "shared" / "cases").glob("*.yaml")
    )
    rng = random.Random(seed)
    bodies = [_json_text(read_document(p)) for p in paths]
    items: list[dict] = []
    t = time.perf_counter()
    for text in bodies:
        data = load_json(text, "request")
        items.append(
            {
                "kind": "decide",
                "url": "/v1/decide",
                "body": text,
                "expected": service.decide_json(service.case_of(data, "request")),
            }
        )
    for text in rng.sample(bodies, 12):  # the same cases under a what-if of their own
        data = load_json(text, "request")
        data["what_if"] = rng.choice(REFORMS)
        data["id"] += "-what-if"
        body = _json_text(data)
        items.append(
            {
                "kind": "decide",
                "url": "/v1/decide",
                "body": body,
                "expected": service.decide_json(service.case_of(load_json(body, "request"), "request")),
            }
        )
    for text in rng.sample(bodies, 8):
        case = service.case_of(load_json(text, "request"), "request")
        goal = rng.choice([None, "LPP", "AIA", "license_required"])
        body = '{"case": ' + text + f', "goal": {json.dumps(goal)}, "format": "json"' + "}"
        items.append(
            {"kind": "explain", "url": "/v1/explain", "body": body, "expected": service.explain(case, goal, "json")}
        )
    for text in rng.sample(bodies, 3):
        case = service.case_of(load_json(text, "request"), "request")
        body = '{"case": ' + text + ', "goal": "LPP", "format": "text"}'
        items.append(
            {
                "kind": "explain",
                "url": "/v1/explain",
                "body": body,
                "text": True,
                "expected": service.explain(case, "LPP", "text"),
            }
        )
    for k in range(4):
        chosen = rng.sample(bodies, 6)
        reform = {"title": f"bench {k}", "operations": REFORMS[k % len(REFORMS)]}
        body = '{"reform": ' + json.dumps(reform) + ', "cases": [' + ", ".join(chosen) + "]}"
        cases = [service.case_of(load_json(c, "request"), "request") for c in chosen]
        items.append(
            {
                "kind": "impact",
                "url": "/v1/impact",
                "body": body,
                "drop": "seconds",
                "expected": _without(service.impact(reform, cases), "seconds"),
            }
        )
    print(f"expected answers: {len(items)} distinct requests computed in {time.perf_counter() - t:.1f} s", flush=True)
    return items


def _without(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    import httpx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="requests in all (default 2000)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--workers", type=int, default=2, help="the server's quick workers (AIDKB_API_WORKERS)")
    ap.add_argument(
        "--slow-workers", type=int, default=2, help="the server's workers for slow questions (AIDKB_API_SLOW_WORKERS)"
    )
    ap.add_argument(
        "--mix",
        default="decide=0.75,explain=0.15,impact=0.10",
        help="shares of the request kinds (default decide=0.75,explain=0.15,impact=0.10)",
    )
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()

    items = workload(args.seed)
    by_kind = {k: [i for i in items if i["kind"] == k] for k in ("decide", "explain", "impact")}
    weights = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}
    rng = random.Random(args.seed)
    plan = [rng.choice(by_kind[rng.choices(list(weights), list(weights.values()))[0]]) for _ in range(args.n)]

    port = free_port()
    aidkb = Path(sys.executable).with_name("aidkb")
    server = subprocess.Popen(
        [str(aidkb), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "AIDKB_API_WORKERS": str(args.workers), "AIDKB_API_SLOW_WORKERS": str(args.slow_workers)},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).json().get("ready"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        else:
            print("the server was not ready within 180 s")
            return 1
        results: list[tuple[str, float, bool, bool]] = []  # kind, seconds, ok, matches
        failures: list[str] = []  # the status (or transport error) of each answer that is not a 200
        lock = threading.Lock()
        queue = iter(plan)

        def client() -> None:
            with httpx.Client(base_url=url, timeout=120) as http:
                while True:
                    with lock:
                        item = next(queue, None)
                    if item is None:
                        return
                    start = time.perf_counter()
                    try:
                        r = http.post(
                            item["url"],
                            content=item["body"].encode("utf-8"),
                            headers={"content-type": "application/json"},
                        )
                        ok = r.status_code == 200
                        answer: Any
                        if not ok:
                            answer = None
                            with lock:
                                failures.append(str(r.status_code))
                        elif item.get("text"):
                            answer = r.text
                        else:
                            answer = r.json()
                            if item.get("drop"):
                                answer = _without(answer, item["drop"])
                        matches = ok and answer == item["expected"]
                    except httpx.HTTPError as e:
                        ok = matches = False
                        with lock:
                            failures.append(type(e).__name__)
                    with lock:
                        results.append((item["kind"], time.perf_counter() - start, ok, matches))

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    def pct(values: list[float], q: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    errors = sum(1 for r in results if not r[2])
    mismatches = sum(1 for r in results if r[2] and not r[3])
    print(
        f"{len(results)} requests ({args.mix}), {args.clients} clients, "
        f"{args.workers} + {args.slow_workers} engine workers, {wall:.1f} s: {len(results) / wall:.1f} requests/s; "
        f"errors {errors}, mismatches {mismatches}"
        + (f" (errors: {', '.join(f'{k} x{v}' for k, v in sorted(Counter(failures).items()))})" if failures else "")
    )
    lat = [r[1] for r in results]
    print(
        f"  all      p50 {pct(lat, 0.5):8.1f} ms  p95 {pct(lat, 0.95):8.1f} ms  mean "
        f"{statistics.mean(lat) * 1000:8.1f} ms"
    )
    for kind in ("decide", "explain", "impact"):
        lat = [r[1] for r in results if r[0] == kind]
        if lat:
            print(f"  {kind:8} p50 {pct(lat, 0.5):8.1f} ms  p95 {pct(lat, 0.95):8.1f} ms  ({len(lat)} requests)")
    return 0 if not errors and not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
