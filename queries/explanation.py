"""Explaining a case: for every goal asked (or every conclusion and failed route), the proof or the
refutation, and for what fails, minimal counterfactuals. The proofs form one checkable document,
written as proof.v2; each goal carries its own node of it, typed."""

from __future__ import annotations

from dataclasses import dataclass, field

from aidkb import ontology
from aidkb.kb.errors import AidkbError
from aidkb.kb.program import baseline_program
from aidkb.kb.syntax import Program

from . import proof_model as model
from .case import Case
from .counterfactual import Counterfactual, search_counterfactuals
from .decide import ROUTES, Decision, decide, engine_for
from .explain import Explainer
from .proof import ProofBuilder
from .proof_v2 import atom_key, to_model
from .reform import Reform


class GoalError(AidkbError, ValueError):
    """A goal that names nothing the rules can explain (exit 2; 422 over HTTP, naming the field)."""


@dataclass
class Goal:
    label: str
    atom: tuple  # (pred, args)
    holds: bool
    node: model.Node  # its proof (holds) or refutation, typed
    counterfactuals: list[Counterfactual] = field(default_factory=list)
    searched: int = 0  # variants of the case the counterfactual search asked about (0: no search)


@dataclass
class Explanation:
    decision: Decision
    goals: list[Goal]
    document: dict
    program: Program | None = None  # the rules the proof was made with (the baseline under the case's reform)


def goal_atom(case: Case, goal: str, onto: ontology.Ontology) -> tuple[str, tuple[str, tuple]]:
    """A goal named on the command line: a route id, a red-flag id, or license_required."""
    if goal.lower() in ("license_required", "licence_required", "licence", "license"):
        return "licence required", ("license_required", (case.id,))
    if goal.upper() in onto.authorizations:
        return f"authorized by {goal.upper()}", ("authorized", (case.id, goal.upper()))
    if goal in onto.red_flags:
        return f"red flag {goal}", ("red_flag", (case.id, goal))
    raise GoalError(
        f"unknown goal {goal!r}: choose license_required, a route ({', '.join(ROUTES)}) or a red flag "
        f"({', '.join(sorted(onto.red_flags))})"
    )


def explain(case: Case, goal: str | None = None, with_counterfactuals: bool = True) -> Explanation:
    onto = ontology.load()
    reform = Reform(case.what_if)
    program = reform.program(baseline_program())
    decision = decide(case)
    c = case.id
    if goal is None:
        wanted: list[tuple[str, tuple[str, tuple]]] = [("licence required", ("license_required", (c,)))]
        wanted += [
            (f"authorized by {r}", ("authorized", (c, r)))
            for r in ROUTES
            if decision.license_required or r in decision.authorized_by
        ]
        wanted += [(f"red flag {f}", ("red_flag", (c, f))) for f in decision.red_flags]
    else:
        wanted = [goal_atom(case, goal, onto)]
    engine = engine_for(reform, program)
    goals: list[Goal] = []
    with engine.facts(case.facts()):
        x = Explainer(engine, program, onto)
        builder = ProofBuilder(x, case, reform)
        holding = [(label, atom) for label, atom in wanted if x.ask(*atom)]
        failing = [(label, atom) for label, atom in wanted if not x.ask(*atom)]
        document = builder.document([a for _, a in holding], [a for _, a in failing])
    typed = to_model(document, program, onto)
    for (label, atom), node in zip(holding, document["conclusions"]):
        goals.append(Goal(label, atom, True, typed.conclusions[atom_key(node["atom"])]))
    for (label, atom), node in zip(failing, document["refutations"]):
        found = search_counterfactuals(case, atom, onto) if with_counterfactuals else None
        refutation = typed.refutations[atom_key(node["atom"])]
        goals.append(Goal(label, atom, False, refutation, found.found if found else [], found.tried if found else 0))
    order = {label: i for i, (label, _) in enumerate(wanted)}
    goals.sort(key=lambda g: order[g.label])
    return Explanation(decision, goals, document, program)
