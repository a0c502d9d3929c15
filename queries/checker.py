"""The proof checker: re-validates a proof.v1 document without the pyDatalog engine.

It reads only the proof, the installed rules (for their text and citations) and the installed ontology facts.
Each rule application must match its rule's text under the bindings (head, every body literal, citations and
English sentence); each premise must be an input or base fact that exists, or be proven itself (a `ref` must
point to a full proof elsewhere in the document, never to one of its own ancestors); each comparison must
hold and each assignment compute; each negated atom must have no derivation, and each refutation's goal must
not hold, which is decided by an independent bottom-up evaluator (kb/bottomup.py), not by the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import ontology
from kb.bottomup import Model
from kb.program import baseline_program
from kb.syntax import COMPARISONS, Assign, Compare, Negative, Positive, Program, Var, evaluate

from .explain import fill
from .proof import FORMAT
from .reform import Reform, ReformError, parse_operations

class BadStep(Exception):
    def __init__(self, path: str, message: str):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


@dataclass
class CheckResult:
    valid: bool
    steps: int
    error: str | None = None


def _ground(atom, b: dict) -> list:
    return [atom.pred] + [b.get(t.name) if isinstance(t, Var) else t.value for t in atom.args]


class _Checker:
    def __init__(self, doc: dict, program: Program, onto: ontology.Ontology):
        self.doc, self.program, self.onto = doc, program, onto
        self.steps = 0
        self.full: dict[tuple, tuple[str, dict]] = {}  # atom -> (path, node) of its full proof
        self.done: set[tuple] = set()
        self.open: list[tuple] = []

    def fail(self, path: str, message: str):
        raise BadStep(path, message)

    def run(self) -> None:
        d = self.doc
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            self.fail("format", f"not a {FORMAT} document")
        q = d.get("question") or {}
        declared = {decl.atom.pred: decl for decl in self.program.declarations}
        self.inputs = set()
        for i, fact in enumerate(q.get("inputs") or []):
            decl = declared.get(fact[0]) if isinstance(fact, list) and fact else None
            if decl is None or decl.kind != "input" or len(fact) - 1 != decl.atom.arity:
                self.fail(f"question.inputs[{i}]", f"{fact!r} is not an input fact of the rules")
            self.inputs.add(tuple(fact))
        try:
            ops = parse_operations([{o["op"]: o["args"]} for o in q.get("what_if") or []], "proof", "what_if",
                                   self.onto)
        except (ReformError, KeyError, TypeError) as e:
            self.fail("question.what_if", str(e))
        self.program = Reform(ops).program(self.program)
        if d.get("ruleset_version") != self.program.version:
            self.fail("ruleset_version", f"made with rule set {d.get('ruleset_version')}, installed rules are "
                                         f"{self.program.version}")
        self.base = {tuple(f) for f in Reform(ops).apply(self.onto.facts())}
        self.model = Model(self.program, list(self.base) + list(self.inputs))
        nodes = [(f"conclusions[{i}]", n) for i, n in enumerate(d.get("conclusions") or [])] + \
                [(f"refutations[{i}]", n) for i, n in enumerate(d.get("refutations") or [])]
        for path, node in nodes:
            self._index(path, node)
        for path, node in nodes:
            if isinstance(node, dict) and node.get("kind") == "refutation":
                self.refutation(path, node)
            else:
                self.node(path, node)

    def _index(self, path: str, node) -> None:
        if not isinstance(node, dict):
            return
        if node.get("kind") == "rule" and isinstance(node.get("atom"), list):
            key = tuple(node["atom"])
            if key in self.full:
                self.fail(path, f"a second full proof of {key}: the document must prove it once")
            self.full[key] = (path, node)
        for i, p in enumerate(node.get("premises") or []):
            self._index(f"{path}.premises[{i}]", p)
        for k in ("because", "blocked_by"):
            if k in node:
                self._index(f"{path}.{k}", node[k])

    # ---- facts that hold

    def node(self, path: str, node) -> None:
        self.steps += 1
        if not isinstance(node, dict) or not isinstance(node.get("atom"), list) or not node["atom"]:
            self.fail(path, "not a proof node with an atom")
        key = tuple(node["atom"])
        kind = node.get("kind")
        if kind == "fact":
            if key in self.inputs or key in self.base:
                return
            self.fail(path, f"{_show(key)} is not an input of the question nor a base fact of the ontology")
        if kind == "ref":
            if key in self.open:
                self.fail(path, f"cycle: the proof of {_show(key)} depends on itself")
            if key not in self.full:
                self.fail(path, f"refers to a proof of {_show(key)} that the document does not contain")
            self._rule_node(*self.full[key])
            return
        if kind != "rule":
            self.fail(path, f"a premise that must hold cannot be a {kind!r} node")
        if key in self.open:
            self.fail(path, f"cycle: the proof of {_show(key)} depends on itself")
        self._rule_node(path, node)

    def _rule_node(self, path: str, node: dict) -> None:
        key = tuple(node["atom"])
        if key in self.done:
            return
        self.open.append(key)
        rule, b = self._application(path, node)
        premises = node.get("premises")
        if not isinstance(premises, list) or len(premises) != len(rule.body):
            self.fail(path, f"rule {rule.id} has {len(rule.body)} conditions, the proof gives "
                            f"{len(premises) if isinstance(premises, list) else 0} premises")
        for i, (lit, premise) in enumerate(zip(rule.body, premises)):
            self._premise(f"{path}.premises[{i}]", lit, premise, b)
        if not self.model.holds(key[0], key[1:]):
            self.fail(path, f"{_show(key)} is not derivable from the inputs and the rules")
        self.open.pop()
        self.done.add(key)

    def _application(self, path: str, node: dict):
        try:
            rule = self.program.rule(node.get("rule"))
        except KeyError:
            self.fail(path, f"no rule {node.get('rule')!r} in the installed rules")
        b = node.get("bindings")
        if not isinstance(b, dict):
            self.fail(path, "bindings missing")
        if node.get("citations") != list(rule.cites):
            self.fail(path, f"citations {node.get('citations')} do not match rule {rule.id}: {list(rule.cites)}")
        if _ground(rule.head, b) != list(node["atom"]):
            self.fail(path, f"rule {rule.id} under these bindings concludes {_show(_ground(rule.head, b))}, "
                            f"not {_show(node['atom'])}")
        return rule, b

    def _premise(self, path: str, lit, premise, b: dict) -> None:
        if not isinstance(premise, dict):
            self.fail(path, "not a proof node")
        kind = premise.get("kind")
        if isinstance(lit, Positive):
            expected = _ground(lit.atom, b)
            if premise.get("atom") != expected:
                self.fail(path, f"premise is {_show(premise.get('atom'))}, the rule needs {_show(expected)}")
            self.node(path, premise)
        elif isinstance(lit, Negative):
            expected = _ground(lit.atom, b)
            if kind != "not" or premise.get("atom") != expected:
                self.fail(path, f"the rule needs 'not {_show(expected)}' here")
            self.steps += 1
            if self.model.holds(expected[0], tuple(expected[1:])):
                self.fail(path, f"{_show(expected)} is derivable, so 'not {_show(expected)}' is false")
        elif isinstance(lit, Assign):
            self.steps += 1
            value = self._eval(path, lit.expr, b)
            if kind != "assign" or premise.get("value") != value or b.get(lit.var.name) != value:
                self.fail(path, f"{lit} gives {value!r}, the proof says {premise.get('value')!r}")
        else:
            self.steps += 1
            left, right = self._eval(path, lit.left, b), self._eval(path, lit.right, b)
            if kind != "compare" or premise.get("left") != left or premise.get("right") != right:
                self.fail(path, f"{lit} compares {left!r} with {right!r}, the proof says "
                                f"{premise.get('left')!r} and {premise.get('right')!r}")
            if not COMPARISONS[lit.op](left, right):
                self.fail(path, f"{left!r} {lit.op} {right!r} does not hold")

    def _eval(self, path: str, expr, b: dict):
        try:
            return evaluate(expr, b)
        except (KeyError, ZeroDivisionError, TypeError) as e:
            self.fail(path, f"cannot compute {expr}: {e!r}")

    # ---- goals that do not hold

    def refutation(self, path: str, node) -> None:
        self.steps += 1
        if not isinstance(node, dict) or node.get("kind") != "refutation" or not isinstance(node.get("atom"), list):
            self.fail(path, "not a refutation node")
        atom = node["atom"]
        rows = [r for r in self.model.rows(atom[0])
                if len(r) == len(atom) - 1 and all(a is None or a == v for a, v in zip(atom[1:], r))]
        if rows:
            self.fail(path, f"claims {_show(atom)} does not hold, but it is derivable")
        if "rule" not in node:
            return
        rule, b = self._application(path, node)
        i = node.get("failed_at")
        if not isinstance(i, int) or not 0 <= i < len(rule.body):
            self.fail(path, f"failed_at {i!r} is not a condition of rule {rule.id}")
        premises = node.get("premises") or []
        if len(premises) != i:
            self.fail(path, f"{i} conditions hold before the failing one, the proof gives {len(premises)}")
        for k, (lit, premise) in enumerate(zip(rule.body[:i], premises)):
            self._premise(f"{path}.premises[{k}]", lit, premise, b)
        lit = rule.body[i]
        if node.get("condition") != str(lit):
            self.fail(path, f"condition {node.get('condition')!r} is not condition {i} of {rule.id}: {lit}")
        if lit.unless and node.get("reason") != fill(lit.unless, b, self.onto):
            self.fail(path, f"reason {node.get('reason')!r} is not the rule's words for this failure")
        if isinstance(lit, Compare):
            left, right = self._eval(path, lit.left, b), self._eval(path, lit.right, b)
            if COMPARISONS[lit.op](left, right):
                self.fail(path, f"{left!r} {lit.op} {right!r} holds, so the condition did not fail")
        elif isinstance(lit, Negative):
            expected = _ground(lit.atom, b)
            if not self.model.holds(expected[0], tuple(expected[1:])):
                self.fail(path, f"'not {_show(expected)}' holds, so the condition did not fail")
            if "blocked_by" in node:
                self.node(f"{path}.blocked_by", node["blocked_by"])
        elif isinstance(lit, Positive):
            sub = {"kind": "refutation", "atom": _ground(lit.atom, b)}
            self.refutation(f"{path}.condition", node.get("because") or sub)


def _show(atom) -> str:
    if not isinstance(atom, (list, tuple)) or not atom:
        return repr(atom)
    return f"{atom[0]}({', '.join('_' if a is None else str(a) for a in atom[1:])})"


def check_proof(doc: dict, program: Program | None = None, onto: ontology.Ontology | None = None) -> CheckResult:
    """Validate a proof.v1 document; the first bad step is reported."""
    checker = _Checker(doc, program or baseline_program(), onto or ontology.load())
    try:
        checker.run()
    except BadStep as e:
        return CheckResult(False, checker.steps, str(e))
    return CheckResult(True, checker.steps)
