"""The ledger: the running totals a single case takes as inputs, computed from the portfolio itself.

When a portfolio's rows carry a `date` (of the shipment) and a `claimed_route` (the licence exception or
authorization the row was shipped under, or `licence` for an individual licence), the rows are put in date
order (ties in row order) and three running totals are computed, each from the rows before:

- the TPP already shipped under LPP to the same ultimate consignee (the end user) in the same calendar year,
  for `transaction.consignee_tpp_already_this_year`;
- the TPP already counted against the destination's allocation: rows under individual licences to the same
  destination within the same allocation period (the validity interval of the allocation parameter in the
  ontology, 2025-2027), for `transaction.country_tpp_already_allocated`;
- the TPP already received under the same NVEU authorization (end user and authorized destination), for
  `transaction.end_user.nveu_authorization.cumulative_tpp`.

A row's TPP is its quantity times its TPP per unit, integers end to end. A value given in the row's own column
wins over the computed one. The totals go into the row's case through the case validator again (so its bounds
hold), and every row is decided with them. A row *breaches* a limit when it claims the limit's route and the
answer for that route changes if the running total is taken as zero: the rules, not this module, say what the
limit is. For each limit (and each consignee, destination or authorization) the first breaching row is named,
with the rules' reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from aidkb import ontology

from .case import Case, InputError, parse_case

LICENCE = "licence"  # the claimed route of a row shipped under an individual licence
LEDGER_COLUMNS = ("date", "claimed_route")
ALLOCATION_PARAMETER = "tier2_country_allocation_tpp"  # its validity intervals are the allocation periods


@dataclass(frozen=True)
class Limit:
    """One running total: which rows count towards it, how they are grouped, and the case field it fills."""

    name: str
    route: str  # the claimed route whose rows count
    column: str  # the case field (dotted path) it fills
    group: Callable[[Case, dt.date], tuple | None]  # None: the row is outside any group of this limit
    counts: Callable[[Case], bool] = lambda case: True  # whether a row claiming the route adds its TPP


def _year(case: Case, day: dt.date) -> tuple:
    return (case.end_user, day.year)


def _allocation_period(case: Case, day: dt.date) -> tuple | None:
    """The destination and allocation period a row counts in: only .a-level items count (742.6(b)(10)(iii)(B)(1):
    "the TPP of 3A090.a, 4A090.a, and corresponding .z items licensed to each destination")."""
    if not _a_level(case):
        return None
    on = ontology.date_number(day)
    for p in ontology.load().parameters:
        if p.name == ALLOCATION_PARAMETER and p.valid_from <= on < p.valid_to:
            return (case.destination, p.valid_from)
    return None


def _a_level(case: Case) -> bool:
    return (ontology.load().items.get(case.item or "") or {}).get("level") == "a"


def _authorization(case: Case, day: dt.date) -> tuple | None:
    return (case.end_user, case.nveu_authorization[0]) if case.nveu_authorization else None


LIMITS = (
    Limit("LPP annual limit per ultimate consignee", "LPP", "transaction.consignee_tpp_already_this_year", _year),
    Limit("Tier 2 country allocation", LICENCE, "transaction.country_tpp_already_allocated", _allocation_period),
    # 748.15(a)(2)(iii)(B): the allocation is "measured by the collective computing power of items subject to ECCNs
    # 3A090.a, 4A090.a, or corresponding .z paragraphs": a .b row gets the running total but does not add to it
    Limit(
        "NVEU allocation",
        "NVEU",
        "transaction.end_user.nveu_authorization.cumulative_tpp",
        _authorization,
        _a_level,
    ),
)


@dataclass(frozen=True)
class Breach:
    limit: str
    group: str
    row: int
    id: str
    why: str


@dataclass
class Ledger:
    """The running totals of every ledger row and, once decided, the breaches."""

    totals: dict[int, dict[str, int]] = field(default_factory=dict)  # row -> limit name -> total used
    claims: dict[int, str] = field(default_factory=dict)  # row -> claimed route
    groups: dict[tuple[int, str], str] = field(default_factory=dict)  # (row, limit name) -> its group, in words
    order: list[int] = field(default_factory=list)  # ledger rows in date order
    problems: list = field(default_factory=list)  # bad rows (aidkb.queries.screen.BadRow)
    claim_ok: dict[int, bool] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)  # the first breach per limit and group
    breached: dict[int, list[str]] = field(default_factory=dict)  # row -> limits it breaches

    def bad_rows(self) -> list:
        return [(p.row, p) for p in self.problems]

    def columns(self, row: int) -> dict:
        """The ledger's output columns for one row."""
        out: dict = {"claimed_route": self.claims.get(row), "claimed_route_ok": self.claim_ok.get(row)}
        for limit in LIMITS:
            out[f"ledger.{limit.column.rsplit('.', 1)[-1]}"] = self.totals.get(row, {}).get(limit.name)
        out["breaches"] = self.breached.get(row, [])
        return out

    def zeroed(self, row: int, case: Case) -> Case | None:
        """The case with its computed running totals taken as zero (None if nothing was computed)."""
        used = self.totals.get(row, {})
        if not any(used.values()):
            return None
        changes: dict = {}
        for limit in LIMITS:
            if used.get(limit.name):
                if limit.column.endswith("consignee_tpp_already_this_year"):
                    changes["consignee_ytd"] = 0
                elif limit.column.endswith("country_tpp_already_allocated"):
                    changes["country_allocated"] = 0
                elif case.nveu_authorization:
                    changes["nveu_authorization"] = (case.nveu_authorization[0], 0)
        return dataclasses.replace(case, **changes)

    def judge(self, decided: dict[int, dict], without: dict[int, dict], ids: dict[int, str]) -> None:
        """Record, for every claiming row, whether its claimed route holds and which limits it breaches."""
        first: dict[tuple[str, str], Breach] = {}
        for n in self.order:
            claim, outcome = self.claims.get(n), decided.get(n)
            if claim is None or outcome is None:
                continue
            routes = outcome.get("authorized_by", [])
            self.claim_ok[n] = outcome.get("license_required") is True if claim == LICENCE else claim in routes
            alternative = without.get(n)
            if alternative is None:
                continue
            for limit in LIMITS:
                if limit.route != claim or not self.totals.get(n, {}).get(limit.name):
                    continue
                if _claimed(outcome, claim) == _claimed(alternative, claim):
                    continue
                self.breached.setdefault(n, []).append(limit.name)
                key = (limit.name, self.groups[(n, limit.name)])
                if key not in first:
                    first[key] = Breach(
                        limit.name,
                        key[1],
                        n,
                        ids[n],
                        _why(outcome, alternative, claim, limit, self.totals[n][limit.name]),
                    )
        self.breaches = sorted(first.values(), key=lambda b: (b.limit, b.row))


def _claimed(outcome: dict, claim: str) -> tuple:
    """What the claim rests on: the route's availability, or for a licence its review policy."""
    if claim == LICENCE:
        return (outcome.get("license_required"), outcome.get("review_policy"))
    return (claim in outcome.get("authorized_by", []),)


def _why(outcome: dict, alternative: dict, claim: str, limit: Limit, total: int) -> str:
    if claim == LICENCE:
        return (
            f"with {total:,} TPP already counted the licence review is {outcome.get('review_policy')!r}; "
            f"without them it would be {alternative.get('review_policy')!r}"
        )
    reason = outcome.get(f"not_available.{claim}")
    return reason or f"{claim} no longer authorizes the row once {total:,} TPP already used are counted"


def apply_ledger(rows: list) -> Ledger | None:
    """Compute the running totals of a portfolio with dates and claimed routes, and put them into the rows'
    cases (rows: [(row number, flat row, Case or None)], changed in place). None if the portfolio has no
    ledger columns."""
    from .screen import BadRow, unflatten

    if not any(all(c in flat for c in LEDGER_COLUMNS) for _, flat, _ in rows):
        return None
    onto = ontology.load()
    ledger = Ledger()
    dated: list[tuple[dt.date, int, int]] = []
    routes = set(onto.authorizations) | {LICENCE}
    for i, (n, flat, case) in enumerate(rows):
        if case is None:
            continue
        day, claim = flat.get("date"), flat.get("claimed_route")
        if claim is not None and claim not in routes:
            ledger.problems.append(
                BadRow(n, case.id, "claimed_route", f"{claim!r} is not one of: {', '.join(sorted(routes))}")
            )
            continue
        if day is None:
            if claim is not None:
                ledger.problems.append(BadRow(n, case.id, "date", "a row with a claimed route needs its date"))
            continue
        try:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        except ValueError:
            ledger.problems.append(BadRow(n, case.id, "date", f"must be a date YYYY-MM-DD, not {day!r}"))
            continue
        if claim is not None:
            ledger.claims[n] = claim
        dated.append((day, n, i))
    dated.sort()
    ledger.order = [n for _, n, _ in dated]
    running: dict[tuple, int] = defaultdict(int)
    for day, n, i in dated:
        _, flat, case = rows[i]
        extra: dict = {}
        for limit in LIMITS:
            group = limit.group(case, day)
            if group is None:
                continue
            ledger.groups[(n, limit.name)] = ", ".join(map(str, group))
            used = running[(limit.name, group)]
            if flat.get(limit.column) is None and (limit.route != "NVEU" or case.nveu_authorization):
                extra[limit.column] = used
                ledger.totals.setdefault(n, {})[limit.name] = used
            if ledger.claims.get(n) == limit.route and case.quantity and case.tpp_per_unit and limit.counts(case):
                running[(limit.name, group)] = used + case.quantity * case.tpp_per_unit
        if extra:
            try:
                rows[i] = (n, flat, parse_case(unflatten({**flat, **extra}, n), case.source, onto))
            except InputError as e:
                ledger.problems.append(BadRow(n, case.id, e.field, e.message))
    return ledger
