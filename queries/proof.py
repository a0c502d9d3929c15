"""Proofs as data (format proof.v1, schema in queries/schemas/proof.v1.json).

A proof document carries the question (the case's input facts, date, mode, what-if operations), the rule-set
version, and one tree per conclusion: rule applications with their bindings, English sentence and one
premise per body literal (a fact with its source, a sub-proof, a comparison or assignment with its values, or
a negation with the why-not of the absent atom). Refutations say why a goal does not hold: the best partial
match, its first failing condition in words, a category, the rules tried, and the deeper reason.
The shortest proof is kept when several rules derive a fact. Output is deterministic.
"""

from __future__ import annotations

from typing import Any

from aidkb import ontology
from aidkb.kb.syntax import Assign, Compare, Negative, Positive, Program, Rule, evaluate

from .case import INPUT_FIELDS, Case
from .explain import Explainer, Failure, fill
from .reform import Reform

FORMAT = "proof.v1"
# Input facts whose absence is itself an answer ("not a VEU", "no such flag"), not a missing fact.
ABSENCE_IS_AN_ANSWER = {"flag", "veu", "g2g", "weights_published", "frontier_ops_given", "controls", "entity_hq"}
TIME_RULES_FILE = "time.dl"
MAX_OBSTACLES = 24  # failing conditions listed for one goal (beyond: the proof says it was truncated)


def atom_list(pred: str, args: tuple) -> list:
    return [pred, *args]


class ProofBuilder:
    """Builds proof.v1 trees from an Explainer whose engine holds the case's facts."""

    def __init__(self, x: Explainer, case: Case, reform: Reform):
        self.x, self.case, self.reform = x, case, reform
        self.program: Program = x.program
        self.onto: ontology.Ontology = x.onto
        self._best: dict[tuple, tuple[int, dict]] = {}
        self._open: set[tuple] = set()
        self.inputs = {d.atom.pred for d in self.program.declarations if d.kind == "input"}
        self._sources = base_sources(self.onto)

    # ---- proofs of facts that hold

    def prove(self, pred: str, args: tuple) -> dict:
        return self._prove(pred, tuple(args))[1]

    def _prove(self, pred: str, args: tuple) -> tuple[int, dict]:
        key = (pred, args)
        if key in self._best:
            return self._best[key]
        if self.program.declaration(pred, len(args)):
            result = (1, self.fact(pred, args))
            self._best[key] = result
            return result
        self._open.add(key)
        best: tuple[int, dict] | None = None
        for app in self.x.fired(pred, args):
            premises: list[dict] = []
            size, cyclic = 1, False
            for lit in app.rule.body:
                sub = self.x.args(lit.atom, app.bindings) if isinstance(lit, (Positive, Negative)) else ()
                if isinstance(lit, Positive):
                    if (lit.atom.pred, sub) in self._open:
                        cyclic = True  # would go round a cycle: not the shortest proof
                        break
                    n, node = self._prove(lit.atom.pred, sub)
                    size += n
                    premises.append(node)
                elif isinstance(lit, Negative):
                    premises.append(self.negation(lit.atom.pred, sub))
                    size += 1
                elif isinstance(lit, Assign):
                    premises.append(
                        {
                            "kind": "assign",
                            "condition": str(lit),
                            "var": lit.var.name,
                            "value": app.bindings[lit.var.name],
                        }
                    )
                    size += 1
                else:
                    premises.append(
                        {
                            "kind": "compare",
                            "condition": str(lit),
                            "op": lit.op,
                            "left": evaluate(lit.left, app.bindings),
                            "right": evaluate(lit.right, app.bindings),
                        }
                    )
                    size += 1
            if cyclic:
                continue
            node = {
                "kind": "rule",
                "atom": atom_list(pred, args),
                "rule": app.rule.id,
                "citations": list(app.rule.cites),
                "bindings": dict(sorted(app.bindings.items())),
                "sentence": fill(app.rule.says, app.bindings, self.onto),
                "premises": premises,
            }
            if best is None or size < best[0]:
                best = (size, node)
        self._open.discard(key)
        if best is None:
            raise ValueError(f"{pred}{args} does not hold; it has no proof")
        self._best[key] = best
        return best

    def fact(self, pred: str, args: tuple) -> dict:
        if pred in self.inputs:
            source = {"type": "case", "file": self.case.source, "field": INPUT_FIELDS.get(pred, pred)}
        else:
            source = self._sources.get((pred, args)) or {"type": "reform", "what_if": self.reform.describe()}
        return {"kind": "fact", "atom": atom_list(pred, args), "source": source}

    def negation(self, pred: str, args: tuple) -> dict:
        return {"kind": "not", "atom": atom_list(pred, args), "why_not": self.x.why_not(pred, args).text}

    # ---- refutations of goals that do not hold

    def refute(self, pred: str, args: tuple) -> dict:
        failure = self.x.why_not(pred, tuple(args))
        node = self._refutation(failure, pred, tuple(args))
        found = self.x.obstacles(pred, tuple(args))
        found.sort(key=lambda o: o[3] != failure.text)  # the reason given first stays first (a stable sort)
        if len(found) > MAX_OBSTACLES:
            self.x.truncated.add(f"at most {MAX_OBSTACLES} obstacles are listed for a goal")
            found = found[:MAX_OBSTACLES]
        if found:
            node["obstacles"] = [{"rule": r, "failed_at": i, "condition": c, "reason": t} for r, i, c, t in found]
        return node

    def _refutation(self, f: Failure, pred: str, args: tuple) -> dict:
        node: dict[str, Any] = {
            "kind": "refutation",
            "atom": atom_list(pred, args),
            "reason": f.text,
            "category": category(f, self),
        }
        if f.rule is None:
            return node
        lit = f.rule.body[f.index]
        node.update(
            {
                "rule": f.rule.id,
                "citations": list(f.rule.cites),
                "bindings": dict(sorted(f.bindings.items())),
                "failed_at": f.index,
                "condition": str(lit),
                "premises": [self._premise(lit, f.bindings) for lit in f.rule.body[: f.index]],
                "tried": [
                    {
                        "rule": r.id,
                        "failed_at": i,
                        "condition": str(r.body[i]),
                        "reason": self.x.failing_reason(r.body[i], b),
                    }
                    for r, i, b in f.alternatives
                ],
            }
        )
        if isinstance(lit, Compare):
            node["values"] = {
                "left": evaluate(lit.left, f.bindings),
                "op": lit.op,
                "right": evaluate(lit.right, f.bindings),
            }
        if f.child is not None and isinstance(lit, (Positive, Negative)):
            node["because"] = self._refutation(f.child, lit.atom.pred, self.x.args(lit.atom, f.bindings))
        if f.blocking is not None:
            node["blocked_by"] = self.prove(
                f.blocking.rule.head.pred, self.x.args(f.blocking.rule.head, f.blocking.bindings)
            )
        elif isinstance(lit, Negative):
            args = self.x.args(lit.atom, f.bindings)
            node["blocked_by"] = self.prove(lit.atom.pred, args)
        return node

    def _premise(self, lit, b: dict) -> dict:
        if isinstance(lit, Positive):
            return self.prove(lit.atom.pred, self.x.args(lit.atom, b))
        if isinstance(lit, Negative):
            return self.negation(lit.atom.pred, self.x.args(lit.atom, b))
        if isinstance(lit, Assign):
            return {"kind": "assign", "condition": str(lit), "var": lit.var.name, "value": b[lit.var.name]}
        return {
            "kind": "compare",
            "condition": str(lit),
            "op": lit.op,
            "left": evaluate(lit.left, b),
            "right": evaluate(lit.right, b),
        }

    # ---- the document

    def document(self, conclusions: list[tuple], refutations: list[tuple]) -> dict:
        c = self.case
        self.x.truncated.clear()  # what this document's own walks cut short
        document = compact(
            {
                "format": FORMAT,
                "ruleset_version": self.program.version,
                "question": {
                    "case": c.id,
                    "source": c.source,
                    "as_of": c.as_of.isoformat(),
                    "mode": c.mode,
                    "what_if": [{"op": o.op, "args": o.to_input()[o.op]} for o in self.reform.operations],
                    "inputs": [list(f) for f in c.facts()],
                },
                "conclusions": [self.prove(p, a) for p, a in conclusions],
                "refutations": [self.refute(p, a) for p, a in refutations],
            }
        )
        if self.x.truncated:
            document["truncated"] = sorted(self.x.truncated)
        return document


CHILD_KEYS = ("premises", "because", "blocked_by")  # where a node's children are, in document order


def children(node: dict) -> list[tuple[str, dict]]:
    """A proof node's children with their path suffixes (".premises[0]", ".because", ".blocked_by"), in document
    order: the one walker of a proof's tree."""
    out = [(f".premises[{i}]", p) for i, p in enumerate(node.get("premises") or [])]
    return out + [(f".{k}", node[k]) for k in CHILD_KEYS[1:] if k in node]


def compact(document: dict) -> dict:
    """Write each derived fact's proof out once, in document order; later uses become {"kind": "ref"}."""
    # A top-level conclusion is always written out in full where it stands (readers take its rule and sentence
    # from there); an earlier use of the same atom inside another proof refers to it.
    top = {tuple(n["atom"]) for n in document["conclusions"] if n["kind"] == "rule"}
    seen: set[tuple] = set()

    def walk(node: dict, root: bool = False) -> dict:
        if node["kind"] == "rule":
            key = tuple(node["atom"])
            if key in seen or (key in top and not root):
                return {"kind": "ref", "atom": node["atom"]}
            seen.add(key)
        out = dict(node)
        if "premises" in node:
            out["premises"] = [walk(p) for p in node["premises"]]
        for k in ("because", "blocked_by"):
            if k in node:
                out[k] = walk(node[k])
        return out

    document = dict(document)
    document["conclusions"] = [walk(n, root=True) for n in document["conclusions"]]
    document["refutations"] = [walk(n) for n in document["refutations"]]
    return document


def category(f: Failure, builder: ProofBuilder) -> str:
    """not in force / threshold exceeded / defeated by an exclusion / missing fact / not applicable."""
    deepest = f
    while deepest.child is not None and deepest.child.rule is not None:
        deepest = deepest.child
    if deepest.rule is None:
        return "not applicable"
    lit = deepest.rule.body[deepest.index]
    if deepest.rule.file.endswith(TIME_RULES_FILE) or (
        isinstance(lit, Positive) and lit.atom.pred in ("regime", "guidance_applies", "rule_binding")
    ):
        return "not in force or not enforced on that date"
    if isinstance(lit, Compare):
        return "threshold exceeded"
    if isinstance(lit, Negative):
        return "defeated by an exclusion"
    if (
        isinstance(lit, Positive)
        and lit.atom.pred in builder.inputs
        and lit.atom.pred not in ABSENCE_IS_AN_ANSWER
        and not builder.x.ask(lit.atom.pred, (builder.case.id,) + (None,) * (lit.atom.arity - 1))
    ):
        return "missing fact"
    return "not applicable"


def base_sources(onto: ontology.Ontology) -> dict[tuple, dict]:
    """Where each base fact comes from in the ontology (computed once per Ontology)."""
    if "_sources" in onto.__dict__:
        return onto.__dict__["_sources"]
    out: dict[tuple, dict] = {}
    onto.__dict__["_sources"] = out
    for m in onto.memberships:
        out[("group_member", (m.code, m.group, m.valid_from, m.valid_to))] = {
            "type": "ontology",
            "iri": m.iri,
            "grade": m.grade,
            "citation": m.citation,
        }
    for p in onto.parameters:
        out[("param", (p.name, p.value, p.valid_from, p.valid_to))] = {
            "type": "parameter",
            "iri": p.iri,
            "name": p.name,
            "value": p.value,
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
            "citation": p.citation,
            "grade": p.grade,
        }
    for code in onto.countries:
        out[("country", (code,))] = {"type": "ontology", "iri": str(ontology.AID[code])}
    for eccn, item in onto.items.items():
        iri = str(ontology.AID["eccn_" + eccn.replace(".", "_")])
        out[("item_class", (eccn, item["class"], item["from"]))] = {"type": "ontology", "iri": iri}
        out[("item_kind", (eccn, item["kind"]))] = {"type": "ontology", "iri": iri}
        out[("item_level", (eccn, item["level"]))] = {"type": "ontology", "iri": iri, "citation": item["licence"]}
        for route, condition in item["exceptions"]:
            out[("item_exception", (eccn, route, condition))] = {
                "type": "ontology",
                "iri": iri,
                "citation": item["citation"],
            }
        if item["read_as"]:
            out[("item_read_as", (eccn, item["read_as"]))] = {"type": "ontology", "iri": iri}
    for a in onto.authorizations:
        out[("authorization", (a,))] = {"type": "ontology", "iri": str(ontology.AID[a])}
    return out


def rules_in(node: dict, program: Program) -> list[Rule]:
    """Every rule a proof or refutation node uses, in pre-order (a ref adds nothing: its proof is elsewhere)."""
    out: list[Rule] = []
    if node.get("rule"):
        out.append(program.rule(node["rule"]))
    for _, child in children(node):
        out += rules_in(child, program)
    return out
