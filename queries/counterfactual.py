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
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aidkb import ontology

from .case import END_USES, FLAGS, Case
from .decide import engine_for
from .explain import format_value
from .reform import Reform

MAX_PAIRS = 5_000  # a bound far above the pairs of the searched fields (about 2,300)
PAIR_BATCH = 2_500


@dataclass(frozen=True)
class Change:
    field: str
    old: object
    new: object
    label: str = ""  # what the new value stands for ("a Tier 2 country in no country group, e.g. Brazil (BR)")

    def describe(self, onto: ontology.Ontology) -> str:
        if self.field == "flags":
            new, old = set(self.new), set(self.old)  # type: ignore[call-overload]  # flags: lists of ids
            added, removed = new - old, old - new
            return "; ".join(
                [f"case fact “{_show(f, onto)}” added" for f in sorted(added)]
                + [f"case fact “{_show(f, onto)}” removed" for f in sorted(removed)]
            )
        field = FIELD_WORDS.get(self.field, self.field)
        return f"{field}: {_show(self.old, onto)} -> {self.label or _show(self.new, onto)}"


# The case fields a search changes, in words (the field itself stays in a counterfactual's JSON).
FIELD_WORDS = {
    "hq": "end user's headquarters",
    "parent_hq": "ultimate parent's headquarters",
    "end_use": "end use",
    "weights_published": "weights published",
    "consignee_ytd": "TPP already shipped to the consignee under LPP this year",
    "country_allocated": "TPP already counted against the destination's allocation",
}


@dataclass
class Counterfactual:
    changes: tuple[Change, ...]
    note: str = ""

    def describe(self, onto: ontology.Ontology) -> str:
        text = "; ".join(c.describe(onto) for c in self.changes)
        return f"{text} ({self.note})" if self.note else text

    def to_json(self) -> dict:
        return {
            "changes": [
                {"field": c.field, "from": c.old, "to": c.new, **({"as": c.label} if c.label else {})}
                for c in self.changes
            ],
            "note": self.note,
            "verified": True,
        }


@dataclass
class Searched:
    """What a counterfactual search found, and how many variants of the case it asked about."""

    found: list[Counterfactual]
    tried: int

    def summary(self) -> str:
        if self.found:
            return f"{len(self.found)} change(s) found among {self.tried:,} variants tried"
        return f"No change of one or two inputs among the {self.tried:,} variants tried makes it hold."


def _show(value, onto) -> str:
    return "none" if value is None else format_value("", value, onto)


def _groups(groups: frozenset, onto: ontology.Ontology) -> str:
    """Country groups in words: D:1 and D:4; a group the rules define beside Supp. No. 1 by its title."""
    names = [f"{g[0]}:{g[1:]}" if re.fullmatch(r"[A-E]\d+", g) else format_value("", g, onto) for g in sorted(groups)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


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

    tried = 0

    def _variants(self, variants: Sequence[Sequence[Change]]) -> tuple[list[tuple], list[str]]:
        """The facts of every variant of the case (each under an id of its own), and those ids in order."""
        facts: list[tuple] = []
        ids = []
        for i, changes in enumerate(variants):
            variant = dataclasses.replace(self.with_(changes), id=f"{self.case.id}#variant{i}")
            facts += variant.facts()
            ids.append(variant.id)
        return facts, ids

    def which(self, variants: Sequence[Sequence[Change]]) -> list[bool]:
        """For each list of changes, whether the goal holds once they are made."""
        if not variants:
            return []
        self.tried += len(variants)
        pred, args = self.goal
        facts, ids = self._variants(variants)
        with self.engine.facts(facts):
            holding = {row[0] for row in self.engine.ask(pred, (None,) + tuple(args[1:]))}
        return [i in holding for i in ids]

    def screen(self, variants: Sequence[Sequence[Change]]) -> list[bool]:
        """which(), for many variants: screened set at a time by the SQL engine (kb/sqlengine.py), then the
        variants it finds verified by the engine; without the SQL engine (it refuses a program), which()."""
        if not variants:
            return []
        from aidkb.kb.sqlengine import SqlEngineError

        from .impact import sql_engine

        pred, args = self.goal
        facts, ids = self._variants(variants)
        try:
            reform = Reform(self.case.what_if)
            rows = sql_engine(reform, reform.program()).evaluate(iter(facts), [pred]).rows(pred)
        except (SqlEngineError, ArithmeticError, TypeError, ValueError, KeyError, RuntimeError):
            return self.which(variants)
        holding = {r[0] for r in rows if tuple(r[1:]) == tuple(args[1:])}
        hits = [i for i, v in enumerate(ids) if v in holding]
        self.tried += len(variants) - len(hits)  # the hits are counted once, by which()
        out = [False] * len(variants)
        for i, ok in zip(hits, self.which([variants[i] for i in hits])):
            out[i] = ok
        return out

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

    def boundaries(self, field: str, low: int, high: int, bases: list[tuple]) -> list[int | None]:
        """For each list of changes in `bases`, boundary(field, low, high) with those changes made too: the
        bisections run side by side, one query per round for all of them."""
        ok = self.which([list(b) + [Change(field, None, low)] for b in bases])
        lo = [low if k else None for k in ok]
        hi = [high] * len(bases)
        while True:
            active = [i for i in range(len(bases)) if lo[i] is not None and hi[i] - (lo[i] or 0) > 1]
            if not active:
                return lo
            mids = {i: ((lo[i] or 0) + hi[i]) // 2 for i in active}
            for i, k in zip(active, self.which([list(bases[i]) + [Change(field, None, mids[i])] for i in active])):
                if k:
                    lo[i] = mids[i]
                else:
                    hi[i] = mids[i]


# Representatives of a class of countries, best known first (a class is named by its listings, not by the
# first country of the alphabet).
PREFERRED = (
    "BR",
    "IN",
    "MY",
    "VN",
    "MX",
    "ID",
    "TH",
    "SA",
    "AE",
    "IL",
    "DE",
    "FR",
    "JP",
    "GB",
    "KR",
    "CA",
    "AU",
    "SG",
    "TW",
    "CN",
    "MO",
    "HK",
    "RU",
    "IR",
    "KP",
    "CU",
    "SY",
    "BY",
    "VE",
    "CY",
    "KH",
    "NI",
    "ET",
)
TIER_OF = {"Supp5A": 1, "D5": 3, "Macau": 3}


def country_classes(case: Case, onto: ontology.Ontology) -> dict[str, str]:
    """One country for each distinct combination of group listings on the date asked, with the US: the
    representative's code -> the class in words ("a Tier 2 country in D:1 and D:4, e.g. India (IN)")."""
    on = ontology.date_number(case.as_of)
    profile: dict[str, set] = {c: set() for c in onto.countries}
    for code, group, frm, to, *_ in onto.memberships:
        if frm <= on < to:
            profile[code].add(group)
    rank = {c: i for i, c in enumerate(PREFERRED)}
    members: dict[frozenset, list[str]] = {}
    for code in sorted(onto.countries, key=lambda c: (rank.get(c, len(rank)), c)):
        members.setdefault(frozenset(profile[code]), []).append(code)
    out = {"US": "the United States"}
    for groups, codes in members.items():
        rep = codes[0]
        if rep == "US" or "US" in codes:
            continue
        if len(codes) == 1:
            out[rep] = f"{onto.countries[rep]} ({rep})"
            continue
        tier = max((TIER_OF.get(g, 2) for g in groups), default=2) if "Supp5A" not in groups else 1
        listed = f"in {_groups(groups, onto)}" if groups else "in no country group"
        out[rep] = f"a Tier {tier} country {listed}, e.g. {onto.countries[rep]} ({rep})"
    return out


def country_candidates(case: Case, onto: ontology.Ontology) -> list[str]:
    """One country for each distinct combination of group listings on the date asked, and the US."""
    classes = country_classes(case, onto)
    return ["US"] + sorted(set(classes) - {"US"})


def _options(case: Case, onto: ontology.Ontology, countries: list[str] | None = None) -> list[Change]:
    """Every single change tried, in the order answers list them."""
    classes = country_classes(case, onto)
    countries = countries or country_candidates(case, onto)
    label = {c: classes.get(c, "") for c in countries}
    out = [
        Change("destination", case.destination, c, label[c]) for c in countries if c not in (case.destination, "US")
    ]  # shipping to the US is not an export
    out += [
        Change(f, getattr(case, f), c, label[c])
        for f in ("hq", "parent_hq")
        for c in countries
        if c != getattr(case, f)
    ]
    out += [Change("end_use", case.end_use, u) for u in END_USES if u != case.end_use]
    if case.training_ops is not None:
        out.append(Change("weights_published", case.weights_published, not case.weights_published))
    for flag in FLAGS:
        flags = tuple(f for f in case.flags if f != flag) if flag in case.flags else case.flags + (flag,)
        out.append(Change("flags", case.flags, flags))
    return out


NUMERIC = (
    ("quantity", 1, "the largest quantity for which it holds"),
    ("consignee_ytd", 0, "the largest year-to-date LPP figure for which it holds"),
    ("country_allocated", 0, "the largest figure already counted for which it holds"),
)


def single_changes(case: Case, search: Search, onto: ontology.Ontology) -> list[Counterfactual]:
    out: list[Counterfactual] = []
    for field, low, note in NUMERIC:
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


def paired_changes(case: Case, search: Search, onto: ontology.Ontology, limit: int = 6) -> list[Counterfactual]:
    """When no single change works: every other input changed (one value per class) together with the
    largest number that then fits, and every two other inputs changed together."""
    options = _options(case, onto)
    out: list[Counterfactual] = []
    for field, low, note in NUMERIC:
        current = getattr(case, field)
        if current is None or current <= low:
            continue
        for change, best in zip(options, search.boundaries(field, low, current, [(c,) for c in options])):
            if best is not None:
                out.append(Counterfactual((change, Change(field, current, best)), note))
    # every pair of other inputs (countries by class), in batches, until enough are found
    order = {"destination": 0, "hq": 0, "parent_hq": 0, "end_use": 1, "weights_published": 1, "flags": 2}
    pairs = sorted(
        ((a, b) for a, b in itertools.combinations(options, 2) if a.field != b.field),
        key=lambda p: max(order.get(p[0].field, 3), order.get(p[1].field, 3)),
    )[:MAX_PAIRS]
    for start in range(0, len(pairs), PAIR_BATCH):
        if len(out) >= limit:
            break
        batch = pairs[start : start + PAIR_BATCH]
        out += [Counterfactual(pair) for pair, ok in zip(batch, search.screen([list(p) for p in batch])) if ok]
    return out


def search_counterfactuals(
    case: Case, goal: tuple[str, tuple], onto: ontology.Ontology | None = None, limit: int = 6
) -> Searched:
    """Subset-minimal changes that make `goal` hold, single changes first, each verified; with the number of
    variants of the case the search asked about."""
    onto = onto or ontology.load()
    search = Search(case, goal)
    if search.works([]):
        return Searched([], search.tried)
    found = single_changes(case, search, onto) or paired_changes(case, search, onto, limit)
    return Searched(found[:limit], search.tried)


def counterfactuals(
    case: Case, goal: tuple[str, tuple], onto: ontology.Ontology | None = None, limit: int = 6
) -> list[Counterfactual]:
    """Subset-minimal changes that make `goal` hold, single changes first, each verified."""
    return search_counterfactuals(case, goal, onto, limit).found
