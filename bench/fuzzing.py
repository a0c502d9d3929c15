"""Input fuzzing: generated case files, reform files and field mutations against the hardened reader and the
validators. Used by tests/unit/test_fuzz.py (bounded, seeded) and by `python -m bench.fuzzing` (a longer run that
prints counts: inputs tried, clean errors, accepted, crashes, hangs, wrongly accepted).

An outcome is *clean* when the input is accepted or refused with an InputError (one `error:` line); anything else
is a crash. A *wrongly accepted* input is a field mutation to a value of the wrong type that validation let
through (a wrong type must be an error, never a default).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aidkb.kb.errors import AidkbError, InputError

CASES = Path(__file__).resolve().parent.parent / "tests" / "cases"

# The type of each field of the case contract that a mutation may break (queries/case.py validates them).
FIELD_TYPES = {
    "id": "name",
    "title": "text?",
    "as_of": "date",
    "mode": "choice",
    "confidence": "choice?",
    "transaction.kind": "choice",
    "transaction.item": "name",
    "transaction.quantity": "count?",
    "transaction.tpp_per_unit": "count?",
    "transaction.memory_bandwidth_gb_s": "count?",
    "transaction.from_country": "country?",
    "transaction.destination_country": "country",
    "transaction.consignee_tpp_already_this_year": "count?",
    "transaction.country_tpp_already_allocated": "count?",
    "transaction.gov_to_gov_arrangement": "bool?",
    "transaction.facts": "list?",
    "transaction.model.training_ops": "count?",
    "transaction.model.weights_published": "bool?",
    "transaction.end_user.name": "text?",
    "transaction.end_user.hq_country": "country?",
    "transaction.end_user.ultimate_parent_hq_country": "country?",
    "transaction.end_user.end_use": "choice",
    "transaction.end_user.veu": "choice?",
}
WRONG = {  # values of the wrong type for each kind of field
    "name": [17, True, ["x"], {"a": 1}, "", "two words"],
    "text": [17, True, ["x"], {"a": 1}, "bell \x07 in text", "x" * 5000],
    "date": [20250601, "2025-13-01", "2025-6-1", "16:40", True, ["2025-06-01"], "yesterday"],
    "choice": [1, True, ["export"], "Export", "unknown-value"],
    "country": [1, False, ["MY"], "my", "XX", "NO "],
    "count": ["1000", "01750", "0x3e8", "16:40", True, False, [], "", -1, 1.5, 10**40],
    "bool": ["yes", "no", 1, 0, "true", []],
    "list": ["non_datacenter_item", {"a": 1}, 5, [5], ["not_a_flag"]],
}


@dataclass
class Tally:
    tried: int = 0
    accepted: int = 0
    clean_errors: int = 0
    crashes: int = 0
    hangs: int = 0
    wrongly_accepted: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.tried:,} inputs tried: {self.accepted:,} accepted, {self.clean_errors:,} clean errors, "
            f"{self.crashes:,} crashes, {self.hangs:,} hangs, {self.wrongly_accepted:,} wrongly accepted"
        )


def base_cases() -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted(CASES.glob("*.yaml"))]


def _get(data: dict, path: str):
    node = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None, False
        node = node[part]
    return node, True


def _set(data: dict, path: str, value) -> dict:
    out = copy.deepcopy(data)
    node = out
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    return out


def field_mutations(rng: random.Random, cases: list[dict], n: int):
    """(mutated case, path, wrong value) triples: one typed field set to a value of the wrong type."""
    paths = sorted(FIELD_TYPES)
    for _ in range(n):
        case = rng.choice(cases)
        path = rng.choice(paths)
        kind = FIELD_TYPES[path].rstrip("?")
        value = rng.choice(WRONG[kind])
        if path.startswith("transaction.model.") and not isinstance(case["transaction"].get("model"), dict):
            continue
        yield _set(case, path, value), path, value


def text_mutations(rng: random.Random, texts: list[str], n: int):
    """Case file texts with random damage: characters changed, lines duplicated or dropped, YAML features the
    reader refuses (anchors, tags, deep nesting, huge numbers)."""
    extras = [
        "&a ",
        "*a",
        "!!int ",
        "!!timestamp ",
        "<<: ",
        "[" * 80,
        "9" * 600,
        "\x00",
        "\ufeff",
        "? ",
        "- ",
        "{",
        "}",
    ]
    for _ in range(n):
        lines = rng.choice(texts).splitlines()
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(lines))
            action = rng.random()
            if action < 0.3:
                lines.insert(i, lines[rng.randrange(len(lines))])
            elif action < 0.45:
                del lines[i]
            elif action < 0.75:
                line = lines[i]
                j = rng.randrange(len(line) + 1)
                lines[i] = line[:j] + rng.choice(extras + list(":#'\"-,[]{}&*!|>%@`")) + line[j:]
            else:
                line = lines[i]
                if ": " in line:
                    key = line.split(": ", 1)[0]
                    lines[i] = (
                        key
                        + ": "
                        + rng.choice(
                            [
                                "NO",
                                "yes",
                                "0x10",
                                "01750",
                                "1e999",
                                "2e26",
                                "null",
                                "~",
                                "[]",
                                "{}",
                                "''",
                                "-5",
                                "4E091",
                                "2025-02-30",
                            ]
                        )
                    )
        yield "\n".join(lines) + "\n"


def reform_mutations(rng: random.Random, n: int):
    """Reform documents with wrong types, unknown fields and conflicting operations."""
    good: list[dict[str, dict[str, Any]]] = [
        {"move_country": {"country": "MY", "to_tier": 1}},
        {"add_to_group": {"country": "VN", "group": "D5"}},
        {"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 40_000_000}},
        {"disable_rule": {"id": "acm_supply_chain"}},
        {"move_country": {"country": "IN", "to_tier": 3, "from": "2025-06-01"}},
    ]
    bad_values: list[Any] = [None, True, 0, -1, 10**100, "1", "x", [], {}, ["MY"], "2025-13-01", 1.5, "D6", "US"]
    for _ in range(n):
        ops = [copy.deepcopy(rng.choice(good)) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.8:
            op = rng.choice(ops)
            args = next(iter(op.values()))
            key = rng.choice(sorted(args) + ["from", "extra"])
            args[key] = rng.choice(bad_values)
        yield {"title": rng.choice(["t", None, 5, "x" * 400]), "operations": ops}


def run(
    seed: int = 2026,
    n: int = 1000,
    decide_accepted: bool = True,
    seconds: float | None = None,
    deadline: float | None = None,
) -> dict:
    """Run the three fuzzers; returns a Tally per fuzzer. With a deadline, accepted cases are decided in a worker
    process that is killed when it overruns (kb/deadline.py): a hang is counted, not suffered."""
    from aidkb import ontology
    from aidkb.kb.deadline import DeadlineExceeded, Worker
    from aidkb.queries.case import parse_case
    from aidkb.queries.decide import decide
    from aidkb.queries.reader import load_yaml
    from aidkb.queries.reform import parse_reform

    rng = random.Random(seed)
    onto = ontology.load()
    cases = base_cases()
    texts = [p.read_text() for p in sorted(CASES.glob("*.yaml"))]
    tallies = {"fields": Tally(), "texts": Tally(), "reforms": Tally()}
    stop = time.monotonic() + seconds if seconds else None

    worker = Worker(deadline) if deadline else None

    def decide_one(case):
        return worker.call(decide, case) if worker else decide(case)

    def attempt(tally: Tally, fn, wrong: bool = False, label: str = "") -> None:
        tally.tried += 1
        try:
            result = fn()
        except InputError:
            tally.clean_errors += 1
            return
        except AidkbError:
            tally.clean_errors += 1
            return
        except Exception as e:  # noqa: BLE001 - counting crashes is the point
            tally.crashes += 1
            if len(tally.examples) < 5:
                tally.examples.append(f"crash {type(e).__name__}: {e} ({label})"[:300])
            return
        tally.accepted += 1
        if wrong:
            tally.wrongly_accepted += 1
            if len(tally.examples) < 5:
                tally.examples.append(f"accepted {label}"[:300])
        elif decide_accepted and hasattr(result, "operations"):  # a reform: decide a bundled case under it
            try:
                case = parse_case(rng.choice(cases), "fuzz.yaml", onto)
                decide_one(dataclasses.replace(case, what_if=result.operations))
            except DeadlineExceeded:
                tally.hangs += 1
                tally.examples.append(f"hang ({label})"[:300])
            except AidkbError:
                pass
            except Exception as e:  # noqa: BLE001
                tally.crashes += 1
                tally.examples.append(f"decide crash {type(e).__name__}: {e} ({label})"[:300])
        elif decide_accepted and hasattr(result, "facts"):
            try:
                decide_one(result)
            except DeadlineExceeded:
                tally.hangs += 1
                tally.examples.append(f"hang ({label})"[:300])
            except AidkbError:
                pass
            except Exception as e:  # noqa: BLE001
                tally.crashes += 1
                tally.examples.append(f"decide crash {type(e).__name__}: {e} ({label})"[:300])

    def parse_text(text: str):
        return parse_case(load_yaml(text, "fuzz.yaml"), "fuzz.yaml", onto)

    for data, path, value in field_mutations(rng, cases, n):
        attempt(tallies["fields"], lambda: parse_case(data, "fuzz.yaml", onto), True, f"{path} = {value!r}")
        if stop and time.monotonic() > stop:
            break
    for text in text_mutations(rng, texts, n):
        attempt(tallies["texts"], lambda: parse_text(text), False, text[:80])
        if stop and time.monotonic() > stop:
            break
    for doc in reform_mutations(rng, n):
        attempt(tallies["reforms"], lambda: parse_reform(doc, "fuzz.yaml", onto), False, repr(doc)[:120])
        if stop and time.monotonic() > stop:
            break
    if worker:
        worker.close()
    return tallies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="inputs per fuzzer")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-decide", action="store_true", help="only validate accepted inputs, do not decide them")
    parser.add_argument(
        "--deadline", type=float, default=30.0, help="seconds a decision may take before it counts as a hang"
    )
    args = parser.parse_args()
    start = time.perf_counter()
    tallies = run(args.seed, args.n, not args.no_decide, deadline=args.deadline)
    for name, tally in tallies.items():
        print(f"{name}: {tally.line()}")
        for example in tally.examples:
            print(f"    {example}")
    total = Tally(
        **{
            k: sum(getattr(t, k) for t in tallies.values())
            for k in ("tried", "accepted", "clean_errors", "crashes", "hangs", "wrongly_accepted")
        }
    )
    print(f"total: {total.line()} in {time.perf_counter() - start:.0f} s (seed {args.seed})")


if __name__ == "__main__":
    main()
