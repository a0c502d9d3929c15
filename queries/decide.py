"""Deciding a case: licence required or not, the routes that authorise it, the routes that do not and why,
red flags, review policy, the provisions that decide it, and the rule's legal status on the date asked."""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

from aidkb import ontology
from aidkb.kb.bottomup import Budget, EvaluationError
from aidkb.kb.engine import Engine, EngineError
from aidkb.kb.program import baseline_program
from aidkb.kb.syntax import Const, Positive, Program, Rule

from .case import Case, CaseError
from .explain import Explainer
from .proof import ProofBuilder, rules_in
from .proof_model import ProofDocument
from .proof_v2 import to_model, to_v2
from .reform import Reform, ReformError, parse_operations

ROUTES = ("AIA", "ACM", "LPP", "ACA", "NAC", "UVEU", "NVEU")  # the order answers list them in
_ENGINES_PER_THREAD = 8
GUARD = Budget(max_rows=200_000, cpu_seconds=20.0)  # for rules amended by a reform (README, "Input limits")
_local = threading.local()


def engine_for(reform: Reform, program: Program | None = None) -> Engine:
    """This thread's engine for the baseline under `reform` (built once, kept in a small per-thread cache).

    pyDatalog state is per thread, so each thread (e.g. each Streamlit session) gets engines of its own, and
    the baseline engine is never the one a reform runs in.
    """
    program = program or reform.program()
    cache: OrderedDict = _local.__dict__.setdefault("engines", OrderedDict())
    key = (program.version, reform.key)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    engine = Engine(program, reform.apply(ontology.load().facts()), GUARD if reform.rule_operations() else None)
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
    proof: dict = field(default_factory=dict, repr=False)  # the proof tree (queries/proof.py)
    obstacles: dict[str, list[str]] = field(default_factory=dict)  # route -> every reason it is not available
    program: Program | None = field(default=None, repr=False, compare=False)  # the rules that made the proof

    def to_json(self) -> dict:
        """decision.v2: the answer fields, and the proof as proof.v2."""
        out = asdict(dataclasses.replace(self, proof={}, program=None))
        del out["program"]
        out["proof"] = to_v2(self.proof, self.rules(), ontology.load()) if self.proof else {}
        return out

    def document(self) -> ProofDocument:
        """The proof as typed nodes (queries/proof_model.py), typed by the rules that made it: what the faces read."""
        return to_model(self.proof, self.rules(), ontology.load())

    def rules(self) -> Program:
        """The rules the proof was made with; a decision made over the installed rules and sent from another
        process (which leaves its rules behind: they weigh six times the rest) gets them under its what-if again."""
        if self.program is None:
            ops = parse_operations(
                [{o["op"]: o["args"]} for o in self.proof["question"]["what_if"]], self.id, "what_if", ontology.load()
            )
            self.program = Reform(ops).program(baseline_program())
        return self.program

    def __getstate__(self) -> dict:
        """Leave the rules behind only when they are the installed ones (under the what-if): rules read from
        another folder (`--rules DIR`) travel with the decision, since no other process can rebuild them."""
        installed = self.program is None or _base_version(self.program.version) == baseline_program().version
        return {**self.__dict__, "program": None} if installed else dict(self.__dict__)

    def outcome(self) -> tuple:
        """What a lawyer acts on: the licence, the routes, the unclear routes and the review policy."""
        return (self.license_required, tuple(self.authorized_by), tuple(sorted(self.uncertain)), self.review_policy)

    def outcome_text(self) -> str:
        if not self.license_required:
            return "no licence required"
        text = "licence required, " + (
            f"authorized by {', '.join(self.authorized_by)}"
            if self.authorized_by
            else "no exception or authorization applies"
        )
        if self.uncertain:
            text += f"; unclear: {', '.join(sorted(self.uncertain))}"
        return text + (f"; review policy: {self.review_policy}" if self.review_policy else "")


def _base_version(version: str) -> str:
    """The version of the rule set a reform amended (Reform.program names it base+digest)."""
    return version.split("+", 1)[0]


def obstacles_of(refutation: dict) -> list[str]:
    """Every reason a route is not available, in words: the reason given first, then the other obstacles."""
    return list(dict.fromkeys([refutation["reason"]] + [o["reason"] for o in refutation.get("obstacles", [])]))


def decide(case: Case, program: Program | None = None, contested: bool = True) -> Decision:
    """Decide one validated case in its own scenario (baseline, or baseline under the case's what_if).

    Where the answer rests on a contested country listing (graded U in ontology/src/groups.ttl) of a country the
    case involves, the case is also decided without that listing, and a caveat says whether the answer changes."""
    onto = ontology.load()
    reform = Reform(case.what_if)
    base = program or baseline_program()
    program = reform.program(base)
    engine = engine_for(reform, program)
    try:
        with engine.facts(case.facts()):
            decision = _read(case, Explainer(engine, program, onto), onto, reform, program)
    except (EvaluationError, EngineError) as e:
        raise ReformError(case.source, "what_if", str(e)) from None
    if contested:
        decision.caveats += [_contested(case, m, base, decision, onto) for m in contested_listings(case, onto)]
    return decision


def contested_listings(case: Case, onto: ontology.Ontology) -> list[ontology.Membership]:
    """The contested (grade U) listings in force on the date for the countries the case involves."""
    on = ontology.date_number(case.as_of)
    involved = {case.destination, case.hq, case.parent_hq} | {p.hq_country for p in case.parent_chain}
    return [m for m in onto.memberships if m.grade == "U" and m.code in involved and m.valid_from <= on < m.valid_to]


def _contested(
    case: Case, m: ontology.Membership, program: Program, decision: Decision, onto: ontology.Ontology
) -> str:
    """A caveat on a contested listing: what it rests on, and the answer without it."""
    without = parse_operations(
        [{"remove_from_group": {"country": m.code, "group": m.group}}], case.source, "contested listing", onto
    )
    other = decide(dataclasses.replace(case, what_if=case.what_if + without), program, contested=False)
    head = f"Contested listing: {onto.countries[m.code]} ({m.code}) in {m.group} ({m.citation}): {m.note}."
    if other.outcome() == decision.outcome():
        return f"{head} Without that listing the answer is the same."
    return f"{head} Without that listing the answer would differ: {other.outcome_text()}."


def read_outcome(x: Explainer, program: Program, onto: ontology.Ontology, c: str) -> dict:
    """What a decision answers, read off a model (pyDatalog, SQL or the checker's bottom-up one): the answer
    rows, the licence, the routes in order, the conclusions to prove and the goals that failed."""
    known = x.engine.arity  # a reform may leave an answer predicate without any rule: then it has no answers
    answers = {
        pred: x.ask(pred, (c, None)) if known.get(pred) == 2 else []
        for pred in ("status", "regime", "authorized", "red_flag", "review", "uncertain_route", "obligation", "caveat")
    }
    answers["status"] = sorted(answers["status"], key=lambda a: _order(program, "status", a[1]))
    answers["caveat"] = sorted(answers["caveat"], key=lambda a: _order(program, "caveat", a[1]))
    required = known.get("license_required") == 1 and x.ask("license_required", (c,)) != []
    routes = {a[1] for a in answers["authorized"]}
    authorized = [r for r in ROUTES if r in routes] + sorted(routes - set(ROUTES))
    conclusions: list[tuple[str, tuple]] = [("status", a) for a in answers["status"]]
    conclusions += [("license_required", (c,))] if required else []
    for pred in ("authorized", "red_flag", "review", "uncertain_route", "obligation", "caveat"):
        conclusions += [(pred, a) for a in answers[pred]]
    failed: list[tuple[str, tuple]]
    if required:
        failed = [("authorized", (c, r)) for r in ROUTES if r in onto.authorizations and r not in authorized]
    else:
        failed = [("license_required", (c,))]
    return {
        "answers": answers,
        "required": required,
        "authorized": authorized,
        "conclusions": conclusions,
        "failed": failed,
        "review_policy": "; ".join(dict.fromkeys(a[1] for a in answers["review"])) or None,
    }


def _read(case: Case, x: Explainer, onto: ontology.Ontology, reform: Reform, program: Program) -> Decision:
    c = case.id
    builder = ProofBuilder(x, case, reform)
    for conflict in x.ask("input_conflict", (c, None)) if x.engine.arity.get("input_conflict") == 2 else []:
        raise CaseError(case.source, conflict[1], builder.prove("input_conflict", conflict)["sentence"])
    o = read_outcome(x, program, onto, c)
    answers, required, authorized = o["answers"], o["required"], o["authorized"]
    conclusions, failed = o["conclusions"], o["failed"]
    proof = builder.document(conclusions, failed)
    status_nodes = proof["conclusions"][: len(answers["status"])]

    reasons = [
        Reason(_label(pred, args), n["rule"], n["citations"], n["sentence"])
        for (pred, args), n in zip(conclusions, proof["conclusions"])
        if pred not in ("status", "caveat")
    ]
    stated = [n["sentence"] for (pred, _), n in zip(conclusions, proof["conclusions"]) if pred == "caveat"]
    not_available = {args[1]: n["reason"] for (_, args), n in zip(failed, proof["refutations"]) if required}
    obstacles = {args[1]: obstacles_of(n) for (_, args), n in zip(failed, proof["refutations"]) if required}
    fired = [r for n in proof["conclusions"] for r in rules_in(n, program)]
    rules_used = fired + [r for n in proof["refutations"] for r in rules_in(n, program)]
    bound = [
        (program.rule(n["rule"]), n["bindings"]) for n in proof["conclusions"] + proof["refutations"] if n.get("rule")
    ]
    return Decision(
        id=c,
        title=case.title,
        as_of=case.as_of.isoformat(),
        mode=case.mode,
        regime=answers["regime"][0][1] if answers["regime"] else "undetermined",
        status=" ".join(dict.fromkeys(n["sentence"] for n in status_nodes)) or "legal status unknown on this date",
        license_required=required,
        authorized_by=authorized,
        not_available=not_available,
        uncertain={a[1]: builder.prove("uncertain_route", a)["sentence"] for a in answers["uncertain_route"]},
        red_flags=sorted({a[1] for a in answers["red_flag"]}),
        review_policy=o["review_policy"],
        obligations=sorted({a[1] for a in answers["obligation"]}),
        citations=list(dict.fromkeys(cite for rule in rules_used for cite in rule.cites)),
        reasons=reasons,
        caveats=list(dict.fromkeys(stated + _caveats(fired, bound, onto, case))),
        no_licence_because=None if required else proof["refutations"][0]["reason"],
        what_if=reform.describe(),
        ruleset_version=program.version,
        proof=proof,
        obstacles=obstacles,
        program=program,
    )


def _label(pred: str, args: tuple) -> str:
    if pred == "license_required":
        return "licence required"
    return {
        "authorized": "authorized by",
        "red_flag": "red flag",
        "review": "licence review:",
        "uncertain_route": "unclear:",
        "obligation": "obligation:",
    }[pred] + f" {args[1]}"


def _order(program: Program, pred: str, key: str) -> int:
    """Where the first rule concluding pred(_, key) stands in the rule set (statuses and caveats read in that order)."""
    for i, rule in enumerate(program.rules_for(pred, 2)):
        if getattr(rule.head.args[1], "value", None) == key:
            return i
    return len(program.rules)


def _caveats(rules: list[Rule], bound: list[tuple[Rule, dict]], onto: ontology.Ontology, case: Case) -> list[str]:
    """Where the answer rests on something unverified: a rule that fired and is graded U or carries a note, or a
    parameter graded U that a rule actually read. (Contested listings: decide.)"""
    out: list[str] = []
    for rule in rules:
        if rule.grade == "U":
            out.append(
                f"rule {rule.id} ({', '.join(rule.cites)}) rests on an unverified reading"
                + (f": {rule.note}" if rule.note else "")
            )
        elif rule.note:
            out.append(f"rule {rule.id}: {rule.note}")
    on = ontology.date_number(case.as_of)
    for rule, bindings in bound:
        for lit in rule.body:
            if not (isinstance(lit, Positive) and lit.atom.pred == "param_on"):
                continue
            name = lit.atom.args[1]
            if (
                isinstance(name, Const)
                and isinstance(name.value, str)
                and getattr(lit.atom.args[2], "name", None) in bindings
            ):
                p = onto.parameter(name.value, on)
                if p and p.grade == "U":
                    out.append(f"parameter {p.name} = {p.value} ({p.citation}) is unverified: {p.note}")
    return list(dict.fromkeys(out))
