"""The impact of a reform: every outcome that flips between the baseline and the reform, and why.

Over (a) a folder of case files and (b) the exhaustive grid: every country x each controlled item class x a
documented set of end-user profiles (GRID_PROFILES). Evaluation is set at a time and reuses the baseline:
- the rules see a country only through its group listings (and the few country codes the rules name, like
  "US"), so grid cases whose destination, headquarters and parent have the same listings, the same item
  class and the same profile are one *class*, evaluated once for all of them;
- the classes' representatives are evaluated together, set at a time, by the SQL engine (kb/sqlengine.py);
  `outcomes` asks pyDatalog the same question case by case (the reference the tests compare with);
- baseline outcomes are kept per process; under a reform only the classes whose countries' listings the
  reform changed are evaluated again, unless the reform changes parameters or rules (then all classes are).
The cause of a flip names the reform operations that bear on it, the rules that fire or no longer fire, and
the premises (base facts) that changed, read off the two proofs of one representative case.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypedDict

from aidkb import ontology
from aidkb.kb.program import baseline_program
from aidkb.kb.sqlengine import SqlCompileError, SqlEngine, SqlTypeError
from aidkb.kb.syntax import Assign, Atom, BinOp, Compare, Const, Negative, Positive, Program

from . import proof_model as model
from .case import Case
from .decide import decide, engine_for
from .proof_model import ProofDocument
from .reform import Reform
from .render import atom_text

GRID_AS_OF = dt.date(2025, 6, 1)
GRID_ITEMS = ("3A090.a", "4A090.a", "5A992.z", "4E091")
# End-user profiles of the grid. hq / parent: "dest" = the destination country itself, or a fixed country
# (US; BR, a Tier 2 country outside D:1/D:4/D:5; CN, in D:5). veu: none, a UVEU holding 10 billion TPP (85 %
# in Tier 1, 60 % in the US, 5 % in the destination), or an NVEU authorised for the destination with 100 million
# TPP received. size: 100 or 5,000 units of 15,832 TPP (1,583,200 or 79,160,000 TPP). ytd: TPP already shipped
# to the consignee under LPP this year (0, or 26,000,000, close to the 26,900,000 limit).
HQ_PARENT = (("dest", "dest"), ("dest", "CN"), ("US", "US"), ("US", "CN"), ("BR", "BR"), ("BR", "CN"), ("CN", "CN"))
VEUS = (None, "UVEU", "NVEU")
SIZES = (100, 5000)
YTDS = (0, 26_000_000)
TPP_PER_UNIT = 15_832


class Profile(TypedDict):
    """An end-user profile of the grid (see above)."""

    hq: str
    parent: str
    veu: str | None
    quantity: int
    ytd: int


GRID_PROFILES: tuple[Profile, ...] = tuple(
    Profile(hq=h, parent=p, veu=v, quantity=q, ytd=y) for h, p in HQ_PARENT for v in VEUS for q in SIZES for y in YTDS
)
OUTCOME_PREDICATES = ("license_required", "authorized", "red_flag", "review")
STATUSES = ("no licence required", "licence required, authorized", "individual licence needed")
FLIP_KINDS = ("tighter", "looser", "route-only")


@dataclass(frozen=True)
class Outcome:
    license_required: bool
    authorized: tuple[str, ...]
    red_flags: tuple[str, ...]
    review: tuple[str, ...]

    def status(self) -> str:
        """The outcome's licence status, one of STATUSES."""
        return STATUSES[0] if not self.license_required else STATUSES[1] if self.authorized else STATUSES[2]

    def describe(self) -> str:
        if not self.license_required:
            return "no licence"
        return "licence; " + (
            f"authorized by {', '.join(self.authorized)}"
            if self.authorized
            else "individual licence" + (f" ({', '.join(self.review)})" if self.review else "")
        )


@dataclass
class Flip:
    key: str  # case id, or grid key "MY/3A090.a/profile 12"
    country: str
    item: str
    before: Outcome
    after: Outcome
    causes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """tighter (a stricter licence status), looser (a laxer one) or route-only (the same status; the
        authorizing routes, the review policy or the red flags change)."""
        was, now = STATUSES.index(self.before.status()), STATUSES.index(self.after.status())
        return FLIP_KINDS[0] if now > was else FLIP_KINDS[1] if now < was else FLIP_KINDS[2]


@dataclass
class Impact:
    reform: Reform
    compared: int
    flips: list[Flip]
    evaluated: int  # cases and grid classes actually evaluated under the reform
    seconds: float
    as_of: dt.date = GRID_AS_OF  # the grid's date and reading (each case keeps its own)
    mode: str = "as_published"
    counted: Counter = field(default_factory=Counter)  # baseline outcomes compared: (country, item, status) -> n

    def totals(self) -> dict[str, dict[str, int]]:
        tiers = tier_of_countries(Reform(), self.as_of)
        return {
            "by_tier": dict(sorted(Counter(f"Tier {tiers.get(f.country, '?')}" for f in self.flips).items())),
            "by_country": dict(sorted(Counter(f.country for f in self.flips).items())),
            "by_item": dict(sorted(Counter(f.item for f in self.flips).items())),
            "by_kind": {k: n for k in FLIP_KINDS if (n := sum(f.kind == k for f in self.flips))},
        }

    def status_totals(self) -> dict[str, dict]:
        """The outcomes compared, counted by licence status before and after the reform: overall, by baseline
        tier on the date, by item and by country."""
        after = Counter(self.counted)
        for f in self.flips:
            after[(f.country, f.item, f.before.status())] -= 1
            after[(f.country, f.item, f.after.status())] += 1
        tiers = tier_of_countries(Reform(), self.as_of)

        def table(counts: Counter) -> dict:
            out: dict = {"all": {s: 0 for s in STATUSES}, "by_tier": {}, "by_item": {}, "by_country": {}}
            for (country, item, status), n in sorted(counts.items()):
                if n:
                    out["all"][status] += n
                    for part, name in (
                        ("by_tier", f"Tier {tiers.get(country, '?')}"),
                        ("by_item", item),
                        ("by_country", country),
                    ):
                        row = out[part].setdefault(name, {s: 0 for s in STATUSES})
                        row[status] += n
            return out

        return {"before": table(self.counted), "after": table(after)}

    def to_json(self) -> dict:
        return {
            "reform": self.reform.describe(),
            "as_of": self.as_of.isoformat(),
            "mode": self.mode,
            "compared": self.compared,
            "evaluated": self.evaluated,
            "flipped": len(self.flips),
            "seconds": round(self.seconds, 3),
            "totals": self.totals(),
            "status_totals": self.status_totals(),
            "flips": [
                {
                    "key": f.key,
                    "country": f.country,
                    "item": f.item,
                    "kind": f.kind,
                    "before": dataclasses.asdict(f.before),
                    "after": dataclasses.asdict(f.after),
                    "causes": f.causes,
                }
                for f in self.flips
            ],
        }


Progress = Callable[[str, int, int], None]


_tier_lock = threading.Lock()
_tier_maps: OrderedDict = OrderedDict()


def tier_of_countries(reform: Reform, on: dt.date) -> dict[str, int]:
    """Each country's tier on a date under a reform, as the tier rules (amended or not) say: set at a time by the
    SQL engine (pyDatalog for rules it cannot compile exactly), kept per process (a fresh copy each call)."""
    program = reform.program()
    key = (program.version, reform.key, on)
    with _tier_lock:
        if key in _tier_maps:
            _tier_maps.move_to_end(key)
            return dict(_tier_maps[key])
    facts = [("case", "tiers"), ("as_of", "tiers", ontology.date_number(on))]
    try:
        answers = sql_engine(reform, program).evaluate(facts, ("tier2", "tier1", "tier3"))
        found = {pred: [row[1] for row in answers.rows(pred)] for pred in ("tier2", "tier1", "tier3")}
    except (SqlCompileError, SqlTypeError):
        engine = engine_for(reform, program)
        with engine.facts(facts):
            found = {pred: [c for _, c in engine.ask(pred, ("tiers", None))] for pred in ("tier2", "tier1", "tier3")}
    out = {c: int(pred[-1]) for pred in ("tier2", "tier1", "tier3") for c in sorted(found[pred])}
    with _tier_lock:
        _tier_maps[key] = out
        while len(_tier_maps) > 64:
            _tier_maps.popitem(last=False)
    return dict(out)


# ---- outcomes, set at a time


def outcomes(
    cases: list[Case],
    reform: Reform,
    program: Program | None = None,
    batch: int = 150,
    progress: Progress | None = None,
    label: str = "cases",
) -> dict[str, Outcome]:
    """The outcome of every case under the reform from pyDatalog, asserting `batch` cases at a time in one
    engine (the per-case engine's answer; sql_outcomes gives the same set at a time)."""
    program = program or reform.program()
    engine = engine_for(reform, program)
    out: dict[str, Outcome] = {}
    for start in range(0, len(cases), batch):
        chunk = cases[start : start + batch]
        facts = [f for c in chunk for f in c.facts()]
        with engine.facts(facts):
            rows = {
                pred: engine.ask(pred, (None,) * (1 if pred == "license_required" else 2))
                for pred in OUTCOME_PREDICATES
            }
        by_case: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for pred, answers in rows.items():
            for row in answers:
                by_case[row[0]][pred].add(row[1] if len(row) > 1 else True)
        for c in chunk:
            r = by_case.get(c.id, {})
            out[c.id] = Outcome(
                bool(r.get("license_required")),
                tuple(sorted(r.get("authorized", ()))),
                tuple(sorted(r.get("red_flag", ()))),
                tuple(sorted(r.get("review", ()))),
            )
        if progress:
            progress(label, min(start + batch, len(cases)), len(cases))
    return out


_sql_lock = threading.Lock()
_sql_engines: OrderedDict = OrderedDict()


def sql_engine(reform: Reform, program: Program | None = None) -> SqlEngine:
    """The set-at-a-time engine for the baseline under `reform` (a few kept per process; any thread may use
    one: each evaluation has its own schema). A reform's engine reads the base facts it shares with the
    baseline from the baseline engine's database (only the facts the reform changes are loaded per run)."""
    program = program or reform.program()
    key = (program.version, reform.key)
    with _sql_lock:
        if key in _sql_engines:
            _sql_engines.move_to_end(key)
            return _sql_engines[key]
    share = sql_engine(Reform()) if reform.operations else None
    engine = SqlEngine(program, reform.apply(ontology.load().facts()), share=share)
    with _sql_lock:
        _sql_engines[key] = engine
        while len(_sql_engines) > 8:
            _sql_engines.popitem(last=False)
    return engine


def sql_outcomes(
    cases: list[Case],
    reform: Reform,
    program: Program | None = None,
    progress: Progress | None = None,
    label: str = "cases",
) -> dict[str, Outcome]:
    """The outcome of every case under the reform, all cases at once in the SQL engine (kb/sqlengine.py)."""
    engine = sql_engine(reform, program)
    asked = [p for p in OUTCOME_PREDICATES if p in engine.arity]
    answers = engine.evaluate((f for c in cases for f in c.facts()), asked)
    by_case: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for pred in asked:
        for row in answers.rows(pred):
            by_case[row[0]][pred].add(row[1] if len(row) > 1 else True)
    if progress:
        progress(label, len(cases), len(cases))
    return {c.id: _outcome(by_case.get(c.id, {})) for c in cases}


def _outcome(r: dict) -> Outcome:
    return Outcome(
        bool(r.get("license_required")),
        tuple(sorted(r.get("authorized", ()))),
        tuple(sorted(r.get("red_flag", ()))),
        tuple(sorted(r.get("review", ()))),
    )


def case_outcomes(cases: list[Case], extra: Reform | None = None) -> dict[str, Outcome]:
    """Each case's outcome in its own scenario (its what-if, then `extra`), one SQL run per scenario."""
    extra = extra or Reform()
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        groups[Reform(c.what_if + extra.operations).key].append(
            dataclasses.replace(c, what_if=c.what_if + extra.operations)
        )
    out: dict[str, Outcome] = {}
    for group in groups.values():
        out.update(sql_outcomes(group, Reform(group[0].what_if)))
    return out


# ---- the grid


def _constants(node) -> list:
    if isinstance(node, Const):
        return [node.value]
    if isinstance(node, BinOp):
        return _constants(node.left) + _constants(node.right)
    if isinstance(node, Atom):
        return [v for a in node.args for v in _constants(a)]
    if isinstance(node, (Positive, Negative)):
        return _constants(node.atom)
    if isinstance(node, Assign):
        return _constants(node.expr)
    if isinstance(node, Compare):
        return _constants(node.left) + _constants(node.right)
    return []


def named_countries(program: Program, onto: ontology.Ontology) -> set[str]:
    """Country codes the rules name as constants (such as "US"): each such country is a class of its own."""
    return {
        v
        for r in program.rules
        for part in (r.head,) + r.body
        for v in _constants(part)
        if isinstance(v, str) and v in onto.countries
    }


def listing_profiles(facts: Iterable[tuple], on: dt.date, named: set[str]) -> dict[str, tuple]:
    """Each country's class key on a date: the groups it is listed in (and its code, if the rules name it)."""
    day = ontology.date_number(on)
    groups: dict[str, set] = defaultdict(set)
    for f in facts:
        if f[0] == "group_member" and f[3] <= day < f[4]:
            groups[f[1]].add(f[2])
    onto = ontology.load()
    return {c: (tuple(sorted(groups[c])), c if c in named else None) for c in onto.countries}


# The fine sub-grid, for parameter changes: two hardware items, finer quantities and amounts already shipped under
# LPP this year, the end user headquartered in the destination or in the US, no VEU. Its points are keyed
# "MY/3A090.a/fine 12".
FINE_ITEMS = ("3A090.a", "4A090.a")
FINE_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2500)
FINE_YTDS = (0, 5_000_000, 10_000_000, 20_000_000, 26_000_000)
FINE_PROFILES: tuple[Profile, ...] = tuple(
    Profile(hq=h, parent=p, veu=None, quantity=q, ytd=y)
    for h, p in (("dest", "dest"), ("US", "US"))
    for q in FINE_SIZES
    for y in FINE_YTDS
)
GRIDS: dict[str, tuple[tuple[str, ...], tuple[Profile, ...]]] = {
    "standard": (GRID_ITEMS, GRID_PROFILES),
    "fine": (FINE_ITEMS, FINE_PROFILES),
}


@dataclass(frozen=True)
class GridCase:
    country: str
    item: str
    profile: int
    grid: str = "standard"

    @property
    def key(self) -> str:
        return f"{self.country}/{self.item}/{'profile' if self.grid == 'standard' else self.grid} {self.profile}"


def grid(name: str = "standard") -> list[GridCase]:
    onto = ontology.load()
    items, profiles = GRIDS[name]
    return [GridCase(c, item, i, name) for c in sorted(onto.countries) for item in items for i in range(len(profiles))]


def grid_size(name: str = "standard") -> int:
    items, profiles = GRIDS[name]
    return len(ontology.load().countries) * len(items) * len(profiles)


def grid_case(g: GridCase, as_of: dt.date = GRID_AS_OF, mode: str = "as_published", case_id: str | None = None) -> Case:
    """A grid point as a case (the same facts a case file with these values would give)."""
    p = GRIDS[g.grid][1][g.profile]
    hq = g.country if p["hq"] == "dest" else p["hq"]
    parent = g.country if p["parent"] == "dest" else p["parent"]
    weights = g.item == "4E091"
    holdings = (10_000_000_000, 8_500_000_000, 6_000_000_000, 500_000_000) if p["veu"] == "UVEU" else None
    return Case(
        id=case_id or g.key,
        as_of=as_of,
        mode=mode,
        kind="export",
        item=g.item,
        destination=g.country,
        origin="US",
        end_user="grid end user",
        hq=hq,
        parent_hq=parent,
        end_use="model_hosting" if weights else "datacenter",
        quantity=None if weights else p["quantity"],
        tpp_per_unit=None if weights else TPP_PER_UNIT,
        training_ops=2 * 10**26 if weights else None,
        veu=None if weights else p["veu"],
        uveu_holdings=None if weights else holdings,
        nveu_authorization=(g.country, 100_000_000) if p["veu"] == "NVEU" and not weights else None,
        consignee_ytd=0 if weights else p["ytd"],
        source="<grid>",
    )


class _Baseline:
    """Baseline class outcomes, per process and per (rules, ontology, date, reading, grid): computed once,
    reforms only read them."""

    lock = threading.Lock()
    by_key: ClassVar[dict[tuple, dict]] = {}


def _class_key(
    country_profile: tuple,
    role_profile,
    item: str,
    index: int,
    onto: ontology.Ontology,
    profiles: tuple[Profile, ...] = GRID_PROFILES,
) -> tuple:
    """What the rules can see of a grid point: the listings of its destination, headquarters and parent, the
    item's class and kind, and the end-user profile."""
    p = profiles[index]
    hq = country_profile if p["hq"] == "dest" else role_profile(p["hq"])
    parent = country_profile if p["parent"] == "dest" else role_profile(p["parent"])
    info = onto.items[item]
    return (country_profile, hq, parent, info["class"], info["kind"], index)


def _profiles(
    reform: Reform, program: Program, onto: ontology.Ontology, as_of: dt.date = GRID_AS_OF
) -> dict[str, tuple]:
    return listing_profiles(reform.apply(onto.facts()), as_of, named_countries(program, onto))


def _evaluate(
    needed: dict[tuple, GridCase],
    reform: Reform,
    program: Program,
    progress: Progress | None,
    label: str,
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
) -> dict[tuple, Outcome]:
    cases = [grid_case(g, as_of, mode, case_id=f"class{i}") for i, g in enumerate(needed.values())]
    results = sql_outcomes(cases, reform, program, progress=progress, label=label)
    return {k: results[c.id] for k, c in zip(needed, cases)}


Baseline = dict  # grid class key -> baseline Outcome, as baseline_classes returns it


def baseline_key(as_of: dt.date = GRID_AS_OF, mode: str = "as_published", grid_name: str = "standard") -> tuple:
    """What a baseline grid table depends on: the rules, the ontology, the date, the reading and the grid."""
    return (baseline_program().version, ontology.source_hash(), as_of, mode, grid_name)


def baseline_classes(
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
    grid_name: str = "standard",
    progress: Progress | None = None,
) -> Baseline:
    """The baseline outcome of every grid class, computed once per process and reused by every reform."""
    key = baseline_key(as_of, mode, grid_name)
    with _Baseline.lock:
        if key in _Baseline.by_key:
            return _Baseline.by_key[key]
    onto, program = ontology.load(), baseline_program()
    items, grid_profiles = GRIDS[grid_name]
    profiles = _profiles(Reform(), program, onto, as_of)
    needed: dict[tuple, GridCase] = {}
    seen: set[tuple] = set()
    for country in sorted(onto.countries):
        if profiles[country] in seen:  # a country listed as an earlier one: its points are in the same classes
            continue
        seen.add(profiles[country])
        for item in items:
            for i in range(len(grid_profiles)):
                needed.setdefault(
                    _class_key(profiles[country], profiles.get, item, i, onto, grid_profiles),
                    GridCase(country, item, i, grid_name),
                )
    table = _evaluate(needed, Reform(), program, progress, "baseline grid classes", as_of, mode)
    with _Baseline.lock:
        _Baseline.by_key[key] = table
    return table


@dataclass
class _GridPlan:
    """A reform over a grid before its evaluation: the points (countries grouped by their listings before and
    after), the class outcomes known already, and the classes to evaluate (each with a representative)."""

    base_table: Baseline
    before: dict[str, tuple]
    after: dict[str, tuple]
    points: list[tuple]
    table: dict[tuple, Outcome]
    needed: dict[tuple, GridCase]
    compared: int

    def cases(self, as_of: dt.date, mode: str) -> dict[tuple, Case]:
        """The classes to evaluate as cases (ids no case file can have: they may share a run with case files)."""
        return {
            k: grid_case(g, as_of, mode, case_id=f"<grid class {i}>") for i, (k, g) in enumerate(self.needed.items())
        }

    def flips(self, grid_name: str) -> list[tuple[Flip, GridCase]]:
        """Every point whose outcome differs from the baseline (once the table holds every class)."""
        onto = ontology.load()
        grid_profiles = GRIDS[grid_name][1]
        out = []
        for bp, ap, countries, item, i in self.points:
            was = self.base_table[_class_key(bp, self.before.get, item, i, onto, grid_profiles)]
            now = self.table[_class_key(ap, self.after.get, item, i, onto, grid_profiles)]
            if was != now:
                for country in countries:
                    g = GridCase(country, item, i, grid_name)
                    out.append((Flip(g.key, country, item, was, now), g))
        return out


def _grid_plan(reform: Reform, program: Program, as_of: dt.date, base_table: Baseline, grid_name: str) -> _GridPlan:
    onto = ontology.load()
    items, grid_profiles = GRIDS[grid_name]
    before = _profiles(Reform(), baseline_program(), onto, as_of)
    after = _profiles(reform, program, onto, as_of)
    rules_or_numbers = bool(reform.rule_operations()) or any(o.op == "set_parameter" for o in reform.operations)
    table = {} if rules_or_numbers else dict(base_table)  # listing changes only: same key, same outcome
    moved = {c for c in onto.countries if before[c] != after[c]}
    fixed_roles = {v for p in grid_profiles for v in (p["hq"], p["parent"]) if v != "dest"}
    groups: dict[tuple, list[str]] = defaultdict(list)
    for country in sorted(onto.countries):
        if rules_or_numbers or country in moved or fixed_roles & moved:
            groups[(before[country], after[country])].append(country)
    points = [
        (bp, ap, countries, item, i)
        for (bp, ap), countries in groups.items()
        for item in items
        for i in range(len(grid_profiles))
    ]
    needed: dict[tuple, GridCase] = {}
    for _bp, ap, countries, item, i in points:
        k = _class_key(ap, after.get, item, i, onto, grid_profiles)
        if k not in table:
            needed.setdefault(k, GridCase(countries[0], item, i, grid_name))
    compared = len(onto.countries) * len(items) * len(grid_profiles)
    return _GridPlan(base_table, before, after, points, table, needed, compared)


def grid_flips(
    reform: Reform,
    progress: Progress | None = None,
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
    baseline: Baseline | None = None,
    grid_name: str = "standard",
) -> tuple[list[tuple[Flip, GridCase]], int, int]:
    """Every grid point whose outcome the reform changes, how many points were compared, and how many classes
    had to be evaluated under the reform. `baseline` is baseline_classes' table for the same date, reading and
    grid, when the caller keeps it (the app shares one between sessions)."""
    base_table = baseline if baseline is not None else baseline_classes(as_of, mode, grid_name, progress)
    program = reform.program()
    plan = _grid_plan(reform, program, as_of, base_table, grid_name)
    plan.table.update(_evaluate(plan.needed, reform, program, progress, "grid classes", as_of, mode))
    return plan.flips(grid_name), plan.compared, len(plan.needed)


def grid_outcome_counts(baseline: Baseline, as_of: dt.date = GRID_AS_OF, grid_name: str = "standard") -> Counter:
    """How many baseline grid points have each outcome status, per (country, item, status). Countries with the
    same listings have the same class at every point (their headquarters and parents too: "dest" or fixed), so
    each listing is counted once and its counts given to each of its countries."""
    onto = ontology.load()
    items, grid_profiles = GRIDS[grid_name]
    profiles = _profiles(Reform(), baseline_program(), onto, as_of)
    per_listing: dict[tuple, Counter] = {}
    out: Counter = Counter()
    for country in sorted(onto.countries):
        listing = profiles[country]
        if listing not in per_listing:
            per_listing[listing] = Counter(
                (item, baseline[_class_key(listing, profiles.get, item, i, onto, grid_profiles)].status())
                for item in items
                for i in range(len(grid_profiles))
            )
        for (item, status), n in per_listing[listing].items():
            out[(country, item, status)] += n
    return out


# ---- impact


def impact(
    reform: Reform,
    cases: list[Case] | None = None,
    use_grid: bool = False,
    progress: Progress | None = None,
    explain_causes: bool = True,
    max_causes: int = 200,
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
    baseline: Baseline | None = None,
    grid_name: str = "standard",
    case_baseline: dict[str, Outcome] | None = None,
) -> Impact:
    """Baseline against reform over case files and/or the grid (decided on `as_of` in reading `mode`; each
    case on its own date and reading): every flipped outcome and its cause. `baseline` and `case_baseline`
    are the baseline grid table and the cases' baseline outcomes, when the caller keeps them."""
    start = time.perf_counter()
    flips: list[Flip] = []
    compared = evaluated = 0
    counted: Counter = Counter()
    plan, classes = None, {}
    if use_grid:
        if baseline is None:
            baseline = baseline_classes(as_of, mode, grid_name, progress)
        plan = _grid_plan(reform, reform.program(), as_of, baseline, grid_name)
        classes = plan.cases(as_of, mode)
    # the grid's classes and the case files share the reform's SQL runs (one per scenario of the cases)
    after = case_outcomes(list(cases or []) + list(classes.values()), reform) if cases or classes else {}
    if cases:
        base = case_baseline if case_baseline is not None else case_outcomes(cases)
        compared += len(cases)
        evaluated += len(cases)
        for c in cases:
            counted[(c.destination, c.item, base[c.id].status())] += 1
            if base[c.id] != after[c.id]:
                flips.append(Flip(c.id, c.destination, c.item, base[c.id], after[c.id]))
    found: list[tuple[Flip, GridCase]] = []
    if plan is not None and baseline is not None:
        plan.table.update({k: after[c.id] for k, c in classes.items()})
        if progress:
            progress("grid classes", len(classes), len(classes))
        found = plan.flips(grid_name)
        counted += grid_outcome_counts(baseline, as_of, grid_name)
        flips += [f for f, _ in found]
        compared += plan.compared
        evaluated += len(classes)
    if explain_causes:
        _explain(reform, flips, {id(f): g for f, g in found}, cases or [], max_causes, as_of, mode)
    return Impact(reform, compared, flips, evaluated, time.perf_counter() - start, as_of, mode, counted)


def impact_report(
    reform: Reform,
    cases: list[Case] | None,
    use_grid: bool,
    as_of: dt.date,
    mode: str,
    baseline: Baseline | None = None,
    case_baseline: dict[str, Outcome] | None = None,
    progress: Progress | None = None,
) -> tuple[Impact, dict]:
    """impact() without causes, and its JSON report, in one call (the app runs it in the session's worker and
    asks `why` for the flips the user opens)."""
    result = impact(
        reform,
        cases,
        use_grid,
        progress,
        explain_causes=False,
        as_of=as_of,
        mode=mode,
        baseline=baseline,
        case_baseline=case_baseline,
    )
    return result, result.to_json()


def sweep(
    name: str,
    values: Iterable,
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
    baseline: Baseline | None = None,
    grid_name: str = "fine",
    progress: Progress | None = None,
) -> list[dict]:
    """A parameter swept over `values` on a grid (the fine sub-grid unless told): for each value, how many
    points flip against the baseline, by kind. Each value is one reform, evaluated set at a time."""
    values = list(values)
    if baseline is None:
        baseline = baseline_classes(as_of, mode, grid_name)
    out = []
    for done, value in enumerate(values):
        found, points, _ = grid_flips(Reform().set_parameter(name, value), None, as_of, mode, baseline, grid_name)
        kinds = Counter(f.kind for f, _ in found)
        out.append({"value": value, "compared": points, "flips": len(found), **{k: kinds[k] for k in FLIP_KINDS}})
        if progress:
            progress(f"{name} = {value:,}", done + 1, len(values))
    return out


def _explain(
    reform: Reform,
    flips: list[Flip],
    grid_points: dict,
    cases: list[Case],
    limit: int,
    as_of: dt.date = GRID_AS_OF,
    mode: str = "as_published",
) -> None:
    """Causes, read off the proofs of one representative per distinct kind of flip."""
    by_id = {c.id: c for c in cases}
    memo: dict[tuple, list[str]] = {}
    for flip in flips:
        g = grid_points.get(id(flip))
        case = grid_case(g, as_of, mode) if g else by_id[flip.key]
        kind = (g.grid, g.item, g.profile, flip.before, flip.after) if g else (flip.key,)
        if kind not in memo:
            if len(memo) >= limit:
                flip.causes = ["(causes computed for the first flips of each kind only)"]
                continue
            memo[kind] = causes(case, reform)
        flip.causes = memo[kind]


def causes(case: Case, reform: Reform) -> list[str]:
    """Why the reform changes this case's outcome: the operations that bear on it, the rule applications that
    are new or gone ("now fires: RULE_ID: its sentence under the values it applied with", as the proof writes
    it), and the premises that changed."""

    def applications(proof: ProofDocument) -> dict[tuple[str, str], None]:
        return {
            (node.rule, node.sentence): None
            for top in proof.conclusions.values()
            for _, node in model.walk(top)
            if isinstance(node, model.RuleApplication)
        }

    before = decide(case)
    after = decide(dataclasses.replace(case, what_if=case.what_if + reform.operations))
    proof_before, proof_after = before.document(), after.document()
    fired_before, fired_after = applications(proof_before), applications(proof_after)
    premises_before, premises_after = _base_premises(proof_before), _base_premises(proof_after)
    involved = {case.destination, case.hq, case.parent_hq}
    out = [
        f"reform: {o.describe()}"
        for o in reform.operations
        if o.countries() & involved or o.op not in ("move_country", "add_to_group", "remove_from_group")
    ]
    out += [f"now fires: {r}: {said}" for r, said in sorted(a for a in fired_after if a not in fired_before)]
    out += [f"no longer fires: {r}: {said}" for r, said in sorted(a for a in fired_before if a not in fired_after)]
    onto = ontology.load()
    out += sorted(f"premise added: {atom_text(p, after.rules(), onto)}" for p in premises_after - premises_before)
    out += sorted(f"premise removed: {atom_text(p, before.rules(), onto)}" for p in premises_before - premises_after)
    return out


def _base_premises(proof: ProofDocument) -> set[model.Atom]:
    """The base facts (ontology and parameters, not the case's inputs) a decision's conclusions rest on."""
    return {
        node.atom
        for top in proof.conclusions.values()
        for _, node in model.walk(top)
        if isinstance(node, model.Fact) and not isinstance(node.source, model.CaseSource)
    }


# ---- causes in words

_GRID_KEY = re.compile(r"([A-Z0-9]+)/([^/]+)/(profile|fine) (\d+)\Z")


def grid_point(key: str) -> GridCase | None:
    """The grid point a flip's key names ("MY/3A090.a/profile 12", "MY/3A090.a/fine 30"), or None (a case)."""
    m = _GRID_KEY.match(key)
    if not m:
        return None
    grid_name = "standard" if m.group(3) == "profile" else m.group(3)
    items, profiles = GRIDS[grid_name]
    if m.group(2) not in items or int(m.group(4)) >= len(profiles):
        return None
    return GridCase(m.group(1), m.group(2), int(m.group(4)), grid_name)


def why(
    key: str, reform: Reform, case: Case | None, as_of: dt.date = GRID_AS_OF, mode: str = "as_published"
) -> list[str]:
    """The causes of one flip (a grid point's key, or the flipped case itself) in the rules' sentences."""
    g = grid_point(key)
    if g is not None:
        case = grid_case(g, as_of, mode)
    elif case is None:
        raise ValueError(f"{key!r} is neither a grid point nor given as a case")
    return cause_sentences(causes(case, reform), reform)


def cause_sentences(found: list[str], reform: Reform) -> list[str]:
    """The causes `causes` lists in words: each rule application in its rule's sentence under the values it
    applied with (as the proofs say it), with the rule's citations; each premise in its fact's template."""
    baseline, amended = baseline_program(), reform.program()
    out = []
    for cause in found:
        what, _, detail = cause.partition(": ")
        if what in ("now fires", "no longer fires"):
            rule_id, _, said = detail.partition(": ")
            rule = (amended if what == "now fires" else baseline).rule(rule_id)
            verb = "Now applies" if what == "now fires" else "No longer applies"
            out.append(f"{verb}: {said} ({'; '.join(rule.cites)}) [rule {rule.id}]" if rule and said else cause)
        elif what in ("premise added", "premise removed"):
            out.append(f"{'Now true' if what == 'premise added' else 'No longer true'}: {detail}")
        elif what == "reform":
            out.append(f"The reform: {detail}")
        else:
            out.append(cause)
    return out
