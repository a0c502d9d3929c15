"""A seeded generator of valid random cases, for benchmarks (not legal tests: they have no expected outcome)."""

from __future__ import annotations

import random
from typing import Any

from aidkb import ontology
from aidkb.queries.case import END_USES, parse_case

ITEMS = ["3A090.a", "4A090.a", "5A992.z", "4A003.z", "4E091"]


def random_cases(n: int, seed: int = 2025) -> list:
    rng = random.Random(seed)
    onto = ontology.load()
    countries = sorted(onto.countries)
    focus = ["MY", "SG", "IN", "AE", "DE", "JP", "FR", "BR", "CN", "MO", "VN", "IL", "US"]
    out = []
    for i in range(n):
        item = rng.choice(ITEMS)
        dest = rng.choice(focus if rng.random() < 0.7 else countries)
        hq = rng.choice([dest, dest, "US", "CN", rng.choice(countries)])
        weights = item == "4E091"
        veu = rng.choice([None, None, None, "UVEU", "NVEU"]) if not weights else None
        end_user: dict[str, Any] = {
            "name": f"Buyer {i}",
            "hq_country": hq,
            "ultimate_parent_hq_country": rng.choice([hq, hq, "US", "CN", "MO"]),
            "veu": veu,
            "end_use": rng.choice(END_USES),
        }
        if veu == "UVEU":
            g = rng.randrange(5, 20) * 10**9
            t1 = int(g * rng.uniform(0.6, 0.95))
            end_user["veu_holdings"] = {
                "global_tpp": g,
                "tier1_tpp": t1,
                "us_tpp": int(t1 * rng.uniform(0.3, 0.9)),
                "destination_tpp": int(g * rng.uniform(0, 0.1)),
            }
        if veu == "NVEU":
            end_user["nveu_authorization"] = {
                "destination": rng.choice([dest, "IN"]),
                "cumulative_tpp": rng.randrange(0, 700) * 10**6,
            }
        case = {
            "id": f"gen-{i}",
            "as_of": rng.choice(["2025-01-10", "2025-03-01", "2025-06-01", "2026-03-01"]),
            "mode": rng.choice(["as_published", "as_published", "as_enforced"]),
            "transaction": {
                "kind": rng.choice(["export", "export", "reexport", "transfer_in_country", "iaas_service"]),
                "item": item,
                "quantity": None if weights else rng.choice([10, 100, 1000, 5000, 20000]),
                "tpp_per_unit": None if weights else rng.choice([5000, 15832, 60000, 126656]),
                "model": {"training_ops": rng.choice([5e25, 1e26, 2e26, 3e26]), "weights_published": rng.random() < 0.2}
                if weights or rng.random() < 0.1
                else None,
                "from_country": "US",
                "destination_country": dest,
                "end_user": end_user,
                "consignee_tpp_already_this_year": rng.randrange(0, 30) * 10**6,
                "country_tpp_already_allocated": rng.randrange(0, 900) * 10**6,
                "gov_to_gov_arrangement": rng.random() < 0.2,
                "facts": rng.sample(
                    [
                        "non_datacenter_item",
                        "nac_notified",
                        "unknown_end_user",
                        "foreign_produced_direct_product",
                        "prc_designed_ic",
                    ],
                    rng.randrange(0, 3),
                ),
            },
            "what_if": None,
        }
        out.append(parse_case(case, f"<generated {i}>", onto))
    return out
