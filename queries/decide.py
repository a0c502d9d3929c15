"""Deciding a case: licence required or not, the routes that authorise it, the routes that do not and why,
red flags, review policy, the provisions that decide it, and the rule's legal status on the date asked."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import ontology
from kb.engine import Engine
from kb.program import baseline_program
from kb.syntax import Positive, Program, Rule

from .case import Case
from .explain import Derivation, Explainer, Failure
from .reform import Reform

ROUTES = ("AIA", "ACM", "LPP", "ACA", "NAC", "UVEU", "NVEU")  # the order answers list them in
_ENGINES_PER_THREAD = 8
_local = threading.local()


def engine_for(reform: Reform, program: Program | None = None) -> Engine:
    """This thread's engine for the baseline under `reform` (built once, kept in a small per-thread cache).

    pyDatalog state is per thread, so each thread (e.g. each Streamlit session) gets engines of its own, and
    the baseline engine is never the one a reform runs in.
    """
    program = program or baseline_program()
    cache: OrderedDict = _local.__dict__.setdefault("engines", OrderedDict())
    key = (program.version, reform.key)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    engine = Engine(program, reform.apply(ontology.load().facts()))
    cache[key] = engine
    while len(cache) > _ENGINES_PER_THREAD:
        cache.popitem(last=False)
    return engine


@dataclass
class Reason:
    """A conclusion the rules reached, in the rule's words, with its rule id and citations."""
    conclusion: str
    rule: str
    citations: list[str]
    text: str


@dataclass
class Decision:
    id: str
    title: str
    as_of: str
    mode: str
    regime: str
    status: str
    license_required: bool
    authorized_by: list[str]
    not_available: dict[str, str]
    uncertain: dict[str, str]
    red_flags: list[str]
    review_policy: str | None
    obligations: list[str]
    citations: list[str]
    reasons: list[Reason]
    caveats: list[str]
    no_licence_because: str | None = None
    what_if: list[str] = field(default_factory=list)
    ruleset_version: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def decide(case: Case, program: Program | None = None) -> Decision:
    """Decide one validated case in its own scenario (baseline, or baseline under the case's what_if)."""
    program = program or baseline_program()
    onto = ontology.load()
    reform = Reform(case.what_if)
    engine = engine_for(reform, program)
    with engine.facts(case.facts()):
        return _read(case, Explainer(engine, program, onto), onto, reform, program)


def _read(case: Case, x: Explainer, onto: ontology.Ontology, reform: Reform, program: Program) -> Decision:
    c = case.id
    reasons: list[Reason] = []
    derivations: list[Derivation] = []

    def conclude(pred: str, args: tuple, label) -> list:
        answers = x.ask(pred, args)
        for answer in answers:
            d = x.derive(pred, answer)
            derivations.append(d)
            app = d.application
            reasons.append(Reason(label(answer), app.rule.id, list(app.rule.cites), app.sentence(onto)))
        return answers

    status_apps = x.fired("status", (c, None))
    status = " ".join(dict.fromkeys(a.sentence(onto) for a in status_apps)) or "legal status unknown on this date"
    regime = x.ask("regime", (c, None))[0][1]
    required = bool(conclude("license_required", (c,), lambda a: "licence required"))
    authorized = [a[1] for a in conclude("authorized", (c, None), lambda a: f"authorized by {a[1]}")]
    authorized = [r for r in ROUTES if r in authorized] + sorted(set(authorized) - set(ROUTES))
    flags = sorted({a[1] for a in conclude("red_flag", (c, None), lambda a: f"red flag {a[1]}")})
    reviews = [a[1] for a in conclude("review", (c, None), lambda a: f"licence review: {a[1]}")]
    uncertain = {a[1]: x.derive("uncertain_route", a).application.sentence(onto)
                 for a in conclude("uncertain_route", (c, None), lambda a: f"unclear: {a[1]}")}
    obligations = sorted({a[1] for a in conclude("obligation", (c, None), lambda a: f"obligation: {a[1]}")})

    failures: list[Failure] = []
    not_available: dict[str, str] = {}
    no_licence_because = None
    if required:
        for route in [r for r in ROUTES if r in onto.authorizations and r not in authorized]:
            f = x.why_not("authorized", (c, route))
            failures.append(f)
            not_available[route] = f.text
    else:
        f = x.why_not("license_required", (c,))
        failures.append(f)
        no_licence_because = f.text

    rules_used = [a.rule for a in status_apps]
    for d in derivations:
        rules_used += d.rules()
    fired_rules = list(rules_used)
    for f in failures:
        rules_used += f.rules()
    citations = [cite for rule in rules_used for cite in rule.cites]
    bound = [(a.rule, a.bindings) for a in status_apps] + \
            [(f.rule, f.bindings) for f in failures if f.rule] + \
            [(d.application.rule, d.application.bindings) for d in derivations]
    return Decision(
        id=c, title=case.title, as_of=case.as_of.isoformat(), mode=case.mode, regime=regime, status=status,
        license_required=required, authorized_by=authorized, not_available=not_available, uncertain=uncertain,
        red_flags=flags, review_policy="; ".join(dict.fromkeys(reviews)) or None, obligations=obligations,
        citations=list(dict.fromkeys(citations)), reasons=reasons,
        caveats=_caveats(case, fired_rules, bound, onto), no_licence_because=no_licence_because,
        what_if=reform.describe(), ruleset_version=program.version)


def _caveats(case: Case, rules: list[Rule], bound: list[tuple[Rule, dict]], onto: ontology.Ontology) -> list[str]:
    """Where the answer rests on something unverified: a rule that fired and is graded U or carries a note,
    a parameter graded U that a rule actually read, or a country listing graded U for a country involved."""
    out: list[str] = []
    for rule in rules:
        if rule.grade == "U":
            out.append(f"rule {rule.id} ({', '.join(rule.cites)}) rests on an unverified reading"
                       + (f": {rule.note}" if rule.note else ""))
        elif rule.note:
            out.append(f"rule {rule.id}: {rule.note}")
    on = ontology.date_number(case.as_of)
    for rule, bindings in bound:
        for lit in rule.body:
            if isinstance(lit, Positive) and lit.atom.pred == "param_on" and hasattr(lit.atom.args[1], "value") \
                    and getattr(lit.atom.args[2], "name", None) in bindings:
                p = onto.parameter(lit.atom.args[1].value, on)
                if p and p.grade == "U":
                    out.append(f"parameter {p.name} = {p.value} ({p.citation}) is unverified: {p.note}")
    involved = {case.destination, case.hq, case.parent_hq} | {p.hq_country for p in case.parent_chain}
    for code, group, frm, to, grade, citation in onto.memberships:
        if code in involved and grade == "U" and frm <= on < to:
            out.append(f"{onto.countries[code]} ({code}) in {group} ({citation}) is unverified")
    return list(dict.fromkeys(out))
