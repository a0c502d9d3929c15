"""Minimal counterfactuals: the smallest changes to a case's inputs that would make a goal hold.

Candidates change one input at a time (quantity, destination, headquarters, ultimate parent, VEU status,
year-to-date figures, model facts, end use, case flags); numbers are searched exactly (the largest quantity
that still fits, the largest year-to-date figure that still leaves room) by bisection on re-decided goals.
Only if no single change works are pairs tried. Every counterfactual returned has been verified by asking the
engine the goal on the changed case.
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import ontology

from .case import END_USES, FLAGS, Case
from .decide import engine_for
from .reform import Reform

MAX_PAIRS = 300


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object

    def describe(self, onto: ontology.Ontology) -> str:
        if self.field == "flags":
            added, removed = set(self.new) - set(self.old), set(self.old) - set(self.new)
            return "; ".join([f"fact {f} added" for f in sorted(added)] + [f"fact {f} removed" for f in sorted(removed)])
        return f"{self.field}: {_show(self.old, onto)} -> {_show(self.new, onto)}"


@dataclass
class Counterfactual:
    changes: tuple[Change, ...]
    note: str = ""

    def describe(self, onto: ontology.Ontology) -> str:
        text = "; ".join(c.describe(onto) for c in self.changes)
        return f"{text} ({self.note})" if self.note else text

    def to_json(self) -> dict:
        return {"changes": [{"field": c.field, "from": c.old, "to": c.new} for c in self.changes],
                "note": self.note, "verified": True}


def _show(value, onto) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, str) and value in onto.countries:
        return f"{onto.countries[value]} ({value})"
    return "none" if value is None else str(value)


class Search:
    """Asks one goal about many variants of a case at once, in the case's own scenario (set at a time: the
    variants get case ids of their own, their facts are asserted together, and one query answers for all)."""

    def __init__(self, case: Case, goal: tuple[str, tuple]):
        self.case, self.goal = case, goal
        reform = Reform(case.what_if)
        self.engine = engine_for(reform, reform.program())

    def with_(self, changes) -> Case:
        values = {c.field: c.new for c in changes}
        if "parent_hq" in values and self.case.parent_chain:  # the chain's top is the ultimate parent
            top = dataclasses.replace(self.case.parent_chain[-1], hq_country=values["parent_hq"])
            values["parent_chain"] = self.case.parent_chain[:-1] + (top,)
        return dataclasses.replace(self.case, **values)

    def which(self, variants: list[tuple]) -> list[bool]:
        """For each list of changes, whether the goal holds once they are made."""
        if not variants:
            return []
        pred, args = self.goal
        facts, ids = [], []
        for i, changes in enumerate(variants):
            variant = dataclasses.replace(self.with_(changes), id=f"{self.case.id}#variant{i}")
            facts += variant.facts()
            ids.append(variant.id)
        with self.engine.facts(facts):
            holding = {row[0] for row in self.engine.ask(pred, (None,) + tuple(args[1:]))}
        return [i in holding for i in ids]

    def works(self, changes) -> bool:
        return self.which([changes])[0]

    def boundary(self, field: str, low: int, high: int) -> int | None:
        """The largest value in [low, high) at which the goal holds, when it holds at `low` and fails at `high`
        (the current value), by bisection; None if it fails at `low` too."""
        if not self.works([Change(field, None, low)]):
            return None
        lo, hi = low, high  # invariant: holds at lo, fails at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.works([Change(field, None, mid)]):
                lo = mid
            else:
                hi = mid
        return lo


def country_candidates(case: Case, onto: ontology.Ontology) -> list[str]:
    """One country for each distinct combination of group listings on the date asked, and the US."""
    on = ontology.date_number(case.as_of)
    profile: dict[str, set] = {c: set() for c in onto.countries}
    for code, group, frm, to, *_ in onto.memberships:
        if frm <= on < to:
            profile[code].add(group)
    seen: dict[frozenset, str] = {}
    for code in sorted(onto.countries):
        seen.setdefault(frozenset(profile[code]), code)
    return ["US"] + sorted(set(seen.values()) - {"US"})


def _options(case: Case, onto: ontology.Ontology, countries: list[str] | None = None) -> list[Change]:
    """Every single change tried, in the order answers list them."""
    countries = countries or country_candidates(case, onto)
    out = [Change("destination", case.destination, c) for c in countries
           if c not in (case.destination, "US")]  # shipping to the US is not an export
    out += [Change(f, getattr(case, f), c) for f in ("hq", "parent_hq") for c in countries if c != getattr(case, f)]
    out += [Change("end_use", case.end_use, u) for u in END_USES if u != case.end_use]
    if case.training_ops is not None:
        out.append(Change("weights_published", case.weights_published, not case.weights_published))
    for flag in FLAGS:
        flags = tuple(f for f in case.flags if f != flag) if flag in case.flags else case.flags + (flag,)
        out.append(Change("flags", case.flags, flags))
    return out


def single_changes(case: Case, search: Search, onto: ontology.Ontology) -> list[Counterfactual]:
    out: list[Counterfactual] = []
    for field, low, note in (("quantity", 1, "the largest quantity for which it holds"),
                             ("consignee_ytd", 0, "the largest year-to-date LPP figure for which it holds"),
                             ("country_allocated", 0, "the largest figure already counted for which it holds")):
        current = getattr(case, field)
        if current is not None and current > low:
            best = search.boundary(field, low, current)
            if best is not None:
                out.append(Counterfactual((Change(field, current, best),), note))
    options = _options(case, onto)
    fields_done: set[str] = set()
    for change, ok in zip(options, search.which([[c] for c in options])):
        if ok and (change.field == "flags" or change.field not in fields_done):  # one value per field is enough
            fields_done.add(change.field)
            out.append(Counterfactual((change,)))
    return out


def counterfactuals(case: Case, goal: tuple[str, tuple], onto: ontology.Ontology | None = None,
                    limit: int = 6) -> list[Counterfactual]:
    """Subset-minimal changes that make `goal` hold, single changes first, each verified."""
    onto = onto or ontology.load()
    search = Search(case, goal)
    if search.works([]):
        return []
    singles = single_changes(case, search, onto)
    if singles:
        return singles[:limit]
    # pairs: moves to the US or a Tier 1 destination, other end uses, other facts
    tier1 = [c for c in country_candidates(case, onto) if c != "US" and any(
        m[0] == c and m[1] == "Supp5A" and m[2] <= ontology.date_number(case.as_of) < m[3] for m in onto.memberships)]
    options = _options(case, onto, ["US"] + tier1[:1])
    pairs = [(a, b) for a, b in itertools.combinations(options, 2) if a.field != b.field][:MAX_PAIRS]
    return [Counterfactual(pair) for pair, ok in zip(pairs, search.which([list(p) for p in pairs])) if ok][:limit]
