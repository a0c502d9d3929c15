"""The proof checker: re-validates a proof.v1 document (or a `decide --json` document) without the pyDatalog engine.

It reads only the document, the installed rules (for their text and citations) and the installed ontology facts,
under the reform the document's question carries (which the verdict names: "valid under reform: ...").

First the document's shape: only JSON values of bounded size and depth, every node of a known kind with fields of
the right types (a malformed document gets one error line, never a traceback). Then the question: its case, date
and mode agree with its input facts, and its what-if operations are in input form (they re-parse to themselves).
Then every step:
- a rule application must match its rule under the bindings: head, every body literal, citations, and the English
  sentence, which is re-rendered from the rule's template and must be the very words of the proof;
- a premise is an input or base fact that exists, whose source (case field; ontology IRI; parameter name, value,
  validity, citation, grade) is the one the knowledge base gives, or it is proven itself (a `ref` must point to a
  full proof elsewhere in the document, never to one of its own ancestors);
- a comparison must hold with the rule's operator, an assignment compute the rule's variable;
- a negated atom must have no derivation, and its why-not is re-derived and must be the proof's words;
- a refutation's goal must not hold, and the refutation (its rule, failing condition, reason, category, the rules
  tried, the deeper `because`) is re-derived and must be the proof's.
Derivability is decided by an independent bottom-up evaluator (kb/bottomup.py) under a budget, not by the engine;
the words are re-derived by walking the rules against that evaluator's model. Last, the whole document is rebuilt
from the question and compared: any difference anywhere is reported with its path. A decision document's answer
fields (licence required, routes, reasons, ...) must be the ones its proof gives.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import NoReturn, cast

from aidkb import ontology
from aidkb.kb.bottomup import Budget, EvaluationError, Model
from aidkb.kb.errors import AidkbError
from aidkb.kb.program import baseline_program
from aidkb.kb.syntax import COMPARISONS, Assign, Compare, Negative, Positive, Program, Var, evaluate

from .case import Case
from .explain import Explainer, fill
from .proof import FORMAT, ProofBuilder, base_sources, children, rules_in
from .proof_model import BadValueType, ModelError
from .proof_v2 import FORMAT as V2
from .proof_v2 import SECTIONS, WORDS, BadValue, from_v2, to_v2
from .reform import RULE_OPS, Reform, ReformError, parse_operations

# Bounds on what the checker reads and does (a proof of a shipped case is far below each).
MAX_NODES = 200_000  # JSON values in a document
MAX_DEPTH = 100  # nesting of JSON arrays and objects
MAX_STRING = 50_000  # characters in one string
MAX_INT = 10**40  # magnitude of an integer (TPP, operations, dates are far below)
CPU_SECONDS = 30.0  # process time for one check, evaluation included
MODEL_BUDGET = Budget(max_rows=200_000, cpu_seconds=CPU_SECONDS)
NODE_KINDS = ("rule", "ref", "fact", "not", "assign", "compare", "refutation")
MODES = ("as_published", "as_enforced")


class BadStep(Exception):
    def __init__(self, path: str, message: str):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}" if path else message)


@dataclass
class CheckResult:
    valid: bool
    steps: int
    error: str | None = None
    reform: list[str] = field(default_factory=list)  # the what-if operations the proof was made under
    note: str | None = None  # said after the verdict (a proof in the previous format, proof.v1)

    def verdict(self) -> str:
        """One line: 'valid proof (N steps checked)', 'valid under reform: ... (N steps checked)', or INVALID."""
        if not self.valid:
            return f"INVALID at {self.error}"
        note = f"; {self.note}" if self.note else ""
        if self.reform:
            return f"valid under reform: {'; '.join(self.reform)} ({self.steps} steps checked{note})"
        return f"valid proof ({self.steps} steps checked{note})"


def _ground(atom, b: dict) -> list:
    return [atom.pred] + [b.get(t.name) if isinstance(t, Var) else t.value for t in atom.args]


def _show(atom) -> str:
    if not isinstance(atom, (list, tuple)) or not atom:
        return _brief(atom)
    return f"{atom[0]}({', '.join('_' if a is None else str(a) for a in atom[1:])})"


def _brief(value, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


# ---- the document's shape


def _scan(doc) -> None:
    """Only JSON values, within the size and depth bounds (iterative: a deep document cannot overflow the stack)."""
    stack = [(doc, 0, "")]
    count = 0
    while stack:
        value, depth, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise BadStep("", f"error: the document has more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise BadStep(path, f"error: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise BadStep(path, "error: a key that is not a string")
                stack.append((v, depth + 1, f"{path}.{k}" if path else k))
        elif isinstance(value, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                raise BadStep(path, "error: an integer beyond the bounds of any quantity the rules use")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise BadStep(path, "error: a number that is not finite")
        elif isinstance(value, str):
            if len(value) > MAX_STRING:
                raise BadStep(path, f"error: a string longer than {MAX_STRING:,} characters")
        else:
            raise BadStep(path, f"error: {type(value).__name__} is not a JSON value")


_SCHEMA: dict = {}


def _schema_errors(doc: dict, version: str = FORMAT) -> None:
    """The document against queries/schemas/<version>.json, where the jsonschema package is installed (the
    shape checks below hold either way); the first error is reported with its path."""
    if version not in _SCHEMA:
        try:
            import jsonschema
        except ImportError:
            _SCHEMA[version] = None
        else:
            from pathlib import Path

            schema = json.loads((Path(__file__).parent / "schemas" / f"{version}.json").read_text(encoding="utf-8"))
            _SCHEMA[version] = jsonschema.Draft202012Validator(schema)
    validator = _SCHEMA[version]
    if validator is None:
        return
    error = next(iter(sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise BadStep(path, f"not valid against the {version} schema: {_brief(error.message, 200)}")


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


def _need(path: str, node: dict, key: str, types, what: str):
    if key not in node:
        raise BadStep(path, f"malformed: missing field {key!r}")
    v = node[key]
    if not isinstance(v, types) or (
        isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,))
    ):
        raise BadStep(f"{path}.{key}", f"malformed: must be {what}, not {_brief(v)}")
    return v


def _atom(path: str, v, free: bool = False) -> None:
    if not isinstance(v, list) or not v or not isinstance(v[0], str):
        raise BadStep(path, f"malformed: an atom is a list [predicate, arguments...], not {_brief(v)}")
    for i, a in enumerate(v[1:], 1):
        if not _scalar(a) or (a is None and not free):
            raise BadStep(f"{path}[{i}]", f"malformed: an argument is a string or a number, not {_brief(a)}")


def _shape(path: str, node) -> None:
    if not isinstance(node, dict):
        raise BadStep(path, f"malformed: a proof node is an object, not {_brief(node)}")
    kind = node.get("kind")
    if kind not in NODE_KINDS:
        raise BadStep(f"{path}.kind", f"malformed: unknown node kind {_brief(kind)}")
    if kind in ("rule", "ref", "fact", "not", "refutation"):
        if "atom" not in node:
            raise BadStep(path, "malformed: missing field 'atom'")
        _atom(f"{path}.atom", node["atom"], free=kind == "refutation")
    if kind == "rule" or (kind == "refutation" and "rule" in node):
        _need(path, node, "rule", str, "a rule id")
        cites = _need(path, node, "citations", list, "a list of citations")
        if not all(isinstance(c, str) for c in cites):
            raise BadStep(f"{path}.citations", "malformed: citations are strings")
        b = _need(path, node, "bindings", dict, "an object of variable bindings")
        for k, v in b.items():
            if not _scalar(v) or v is None:
                raise BadStep(f"{path}.bindings.{k}", f"malformed: a binding is a string or a number, not {_brief(v)}")
    if kind == "rule":
        _need(path, node, "sentence", str, "a sentence")
        _need(path, node, "premises", list, "a list of premises")
    elif kind == "fact":
        _need(path, node, "source", dict, "an object naming the fact's source")
    elif kind == "not":
        _need(path, node, "why_not", str, "a text")
    elif kind == "assign":
        _need(path, node, "condition", str, "the rule's condition")
        _need(path, node, "var", str, "a variable name")
        if "value" not in node or not _scalar(node["value"]) or node["value"] is None:
            raise BadStep(f"{path}.value", "malformed: an assignment's value is a number or a string")
    elif kind == "compare":
        _need(path, node, "condition", str, "the rule's condition")
        _need(path, node, "op", str, "a comparison operator")
        for k in ("left", "right"):
            if k not in node or not _scalar(node[k]) or node[k] is None:
                raise BadStep(f"{path}.{k}", "malformed: a compared value is a number or a string")
    elif kind == "refutation":
        _need(path, node, "reason", str, "a text")
        _need(path, node, "category", str, "a category")
        if "rule" in node:
            _need(path, node, "failed_at", int, "an index")
            _need(path, node, "condition", str, "the rule's condition")
            _need(path, node, "premises", list, "a list of premises")
    for suffix, child in children(node):
        _shape(path + suffix, child)


# The last models evaluated (key: ontology, rule set, reform, inputs): a model depends on nothing else, and checking
# several copies of one question (a tamper suite, a re-check) need not evaluate the rules again.
_MODELS: dict[tuple, tuple] = {}


class _ModelEngine:
    """The bottom-up model answering the Explainer's questions as the engine does (sorted full tuples)."""

    def __init__(self, model: Model, program: Program):
        self.model = model
        self.arity = {r.head.pred: r.head.arity for r in program.rules}
        self.arity.update({d.atom.pred: d.atom.arity for d in program.declarations})
        self._by_first: dict[str, dict] = {}

    def ask(self, pred: str, args: tuple) -> list[tuple]:
        if args and args[0] is not None:
            index = self._by_first.get(pred)
            if index is None:
                index = {}
                for r in self.model.rows(pred):
                    if r:
                        index.setdefault(r[0], []).append(r)
                self._by_first[pred] = index
            rows = index.get(args[0], [])
        else:
            rows = self.model.rows(pred)
        return sorted(
            {r for r in rows if len(r) == len(args) and all(a is None or a == v for a, v in zip(args, r))}, key=repr
        )


@dataclass
class _Question:
    """What a ProofBuilder reads of a case, taken from the proof's question."""

    id: str
    source: str
    as_of: dt.date
    mode: str
    inputs: list

    def facts(self) -> list[tuple]:
        return [tuple(f) for f in self.inputs]


class _Checker:
    def __init__(self, doc: dict, program: Program, onto: ontology.Ontology):
        self.doc, self.program, self.onto = doc, program, onto
        self.steps = 0
        self.start = time.process_time()
        self.full: dict[tuple, tuple[str, dict]] = {}  # atom -> (path, node) of its full proof
        self.done: set[tuple] = set()
        self.open: list[tuple] = []
        self.reform = Reform()
        self.described: list[str] = []
        self.written: dict | None = None  # the proof.v2 document, when the document is one
        self.keys: dict[str, list[str]] = {}  # its conclusions' and refutations' keys, in order

    def fail(self, path: str, message: str) -> NoReturn:
        raise BadStep(path, message)

    def tick(self) -> None:
        self.steps += 1
        if self.steps % 64 == 0 and time.process_time() - self.start > CPU_SECONDS:
            self.fail("", f"error: the check exceeded its budget of {CPU_SECONDS:g} s of CPU time")

    def run(self) -> None:
        d = self.doc
        if isinstance(d, dict) and d.get("format") == V2:
            d = self.doc = self.read_v2(d)
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            self.fail("format", f"not a {V2} (or {FORMAT}) document")
        for key in d:
            if key not in ("format", "ruleset_version", "question", "conclusions", "refutations", "truncated"):
                self.fail(key, "malformed: unknown field")
        if self.written is None:  # a proof.v2 document was validated against its own schema
            _schema_errors(d)
        q = _need("", d, "question", dict, "an object")
        _need("", d, "ruleset_version", str, "a rule-set version")
        conclusions = _need("", d, "conclusions", list, "a list of proofs")
        refutations = _need("", d, "refutations", list, "a list of refutations")
        self.question(q)
        nodes = [(f"conclusions[{i}]", n) for i, n in enumerate(conclusions)] + [
            (f"refutations[{i}]", n) for i, n in enumerate(refutations)
        ]
        for path, node in nodes:
            _shape(path, node)
        for path, node in nodes[: len(conclusions)]:
            if node.get("kind") != "rule":
                self.fail(path, "a conclusion is a full rule application (kind 'rule')")
        for path, node in nodes[len(conclusions) :]:
            if node.get("kind") != "refutation":
                self.fail(path, "a refutation has kind 'refutation'")
        # the rules and facts the question names
        try:
            self.program = self.reform.program(self.program)
        except ReformError as e:
            self.fail("question.what_if", str(e))
        if d["ruleset_version"] != self.program.version:
            self.fail(
                "ruleset_version",
                f"made with rule set {d['ruleset_version']}, installed rules are "
                f"{self.program.version}" + (" under this reform" if self.described else ""),
            )
        key = (id(self.onto), self.program.version, self.reform.key, tuple(sorted(map(repr, self.inputs))))
        if key in _MODELS and _MODELS[key][0] is self.onto and _MODELS[key][1] is self.program:
            _, _, self.base, self.model, engine = _MODELS[key]
        else:
            self.base = {tuple(f) for f in self.reform.apply(self.onto.facts())}
            try:
                self.model = Model(self.program, list(self.base) + list(self.inputs), MODEL_BUDGET)
            except EvaluationError as e:
                self.fail("question", f"the rules cannot be evaluated on this question: {e}")
            engine = _ModelEngine(self.model, self.program)
            _MODELS[key] = (self.onto, self.program, self.base, self.model, engine)
            while len(_MODELS) > 4:
                _MODELS.pop(next(iter(_MODELS)))
        self.x = Explainer(engine, self.program, self.onto)
        self.builder = ProofBuilder(self.x, self.case, self.reform)
        self.sources = base_sources(self.onto)
        for path, node in nodes:
            self._index(path, node)
        for path, node in nodes:
            if node["kind"] == "refutation":
                self.refutation(path, node)
            else:
                self.node(path, node)
        self.whole(conclusions, refutations)
        if self.written is not None:  # every value in its type, every key its atom's, as proof.v2 writes them
            difference = _difference("", self.written, json.loads(json.dumps(to_v2(d, self.program, self.onto))))
            if difference:
                self.fail(*difference)

    def read_v2(self, d: dict) -> dict:
        """A proof.v2 document as the proof tree the checks read (its values in the engine's form)."""
        for key in d:
            if key not in ("format", "ruleset_version", "words", "question", *SECTIONS, "truncated"):
                self.fail(key, "malformed: unknown field")
        _schema_errors(d, V2)
        words = _need("", d, "words", str, "a words version")
        if words != WORDS:
            self.fail(
                "words",
                f"written in the wording {_brief(words)}; this checker renders {WORDS!r}, so its "
                "sentences cannot be compared (decide the case again for a proof in these words)",
            )
        q = _need("", d, "question", dict, "an object")
        for section in SECTIONS:
            _need("", d, section, dict, "an object keyed by atom")
        program = self.program
        try:
            ops = parse_operations([{o["op"]: o["args"]} for o in q["what_if"]], "proof", "question.what_if", self.onto)
            program = Reform(ops).program(program)
        except (ReformError, RecursionError, KeyError, TypeError):
            pass  # the question's check reports it
        self.written = d
        self.keys = {section: list(d[section]) for section in SECTIONS}
        try:
            return from_v2(d, program, self.onto)
        except BadValueType as e:
            self.fail(e.path, f"a value of no proof.v2 type: {e.message}")
        except ModelError as e:
            self.fail(e.path, f"malformed: {e.message}")
        except BadValue as e:
            self.fail("", f"a value of no proof.v2 type: {e}")

    def question(self, q: dict) -> None:
        for key in q:
            if key not in ("case", "source", "as_of", "mode", "what_if", "inputs"):
                self.fail(f"question.{key}", "malformed: unknown field")
        case = _need("question", q, "case", str, "a case id")
        source = _need("question", q, "source", str, "a file name")
        as_of = _need("question", q, "as_of", str, "a date YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            self.fail("question.as_of", f"must be a date YYYY-MM-DD, not {_brief(as_of)}")
        mode = _need("question", q, "mode", str, "a mode")
        if mode not in MODES:
            self.fail("question.mode", f"must be one of {', '.join(MODES)}, not {_brief(mode)}")
        what_if = _need("question", q, "what_if", list, "a list of operations")
        inputs = _need("question", q, "inputs", list, "a list of input facts")
        declared = {decl.atom.pred: decl for decl in self.program.declarations}
        self.inputs: set[tuple] = set()
        for i, fact in enumerate(inputs):
            _atom(f"question.inputs[{i}]", fact)
            decl = declared.get(fact[0])
            if decl is None or decl.kind != "input" or len(fact) - 1 != decl.atom.arity:
                self.fail(f"question.inputs[{i}]", f"{_show(fact)} is not an input fact of the rules")
            if fact[1] != case:
                self.fail(f"question.inputs[{i}]", f"{_show(fact)} is about {fact[1]!r}, the question is case {case!r}")
            if tuple(fact) in self.inputs:
                self.fail(f"question.inputs[{i}]", f"{_show(fact)} is given twice")
            self.inputs.add(tuple(fact))
        for pred, value, name in (
            ("case", None, "case"),
            ("as_of", ontology.date_number(day), "as_of"),
            ("mode", mode, "mode"),
        ):
            given = [f for f in self.inputs if f[0] == pred]
            wanted = (pred, case) if value is None else (pred, case, value)
            if given != [wanted]:
                self.fail(
                    f"question.{name}",
                    f"the question says {_brief(q[name])} but its inputs give "
                    f"{', '.join(_show(f) for f in given) or 'none'}",
                )
        for i, o in enumerate(what_if):
            if (
                not isinstance(o, dict)
                or set(o) != {"op", "args"}
                or not isinstance(o["op"], str)
                or not isinstance(o["args"], dict)
            ):
                self.fail(f"question.what_if[{i}]", "malformed: an operation is {op: name, args: {field: value}}")
        try:
            ops = parse_operations([{o["op"]: o["args"]} for o in what_if], "proof", "question.what_if", self.onto)
        except (ReformError, RecursionError) as e:
            self.fail("question.what_if", str(e))
        stored = [{"op": o.op, "args": o.to_input()[o.op]} for o in ops]
        if stored != what_if:
            self.fail("question.what_if", f"the operations are not in their input form: {_brief(stored)}")
        self.reform = Reform(ops)
        self.described = self.reform.describe()
        # a _Question has every field of a Case that the ProofBuilder and the caveats read
        self.case = cast(Case, _Question(case, source, day, mode, [list(f) for f in inputs]))

    def _index(self, path: str, node: dict) -> None:
        if node["kind"] == "rule":
            key = tuple(node["atom"])
            if key in self.full:
                self.fail(path, f"a second full proof of {_show(key)}: the document must prove it once")
            self.full[key] = (path, node)
        for suffix, child in children(node):
            self._index(path + suffix, child)

    # ---- facts that hold

    def node(self, path: str, node: dict) -> None:
        self.tick()
        key = tuple(node["atom"]) if "atom" in node else None
        kind = node["kind"]
        if kind == "fact":
            if key is None or (key not in self.inputs and key not in self.base):
                self.fail(path, f"{_show(key)} is not an input of the question nor a base fact of the ontology")
            expected = self.builder.fact(key[0], key[1:])["source"]
            if node["source"] != expected:
                self.fail(
                    f"{path}.source",
                    f"the source of {_show(key)} is {_brief(expected, 300)}, the proof says "
                    f"{_brief(node['source'], 300)}",
                )
            if set(node) != {"kind", "atom", "source"}:
                self.fail(path, f"unexpected fields {sorted(set(node) - {'kind', 'atom', 'source'})}")
            return
        if kind == "ref":
            if set(node) != {"kind", "atom"}:
                self.fail(path, f"a ref has only kind and atom, not {sorted(set(node) - {'kind', 'atom'})}")
            if key in self.open:
                self.fail(path, f"cycle: the proof of {_show(key)} depends on itself")
            if key is None or key not in self.full:
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
        sentence = fill(rule.says, b, self.onto)
        if node["sentence"] != sentence:
            self.fail(
                f"{path}.sentence",
                f"rule {rule.id} under these bindings says {sentence!r}, the proof says {node['sentence']!r}",
            )
        premises = node["premises"]
        if len(premises) != len(rule.body):
            self.fail(path, f"rule {rule.id} has {len(rule.body)} conditions, the proof gives {len(premises)} premises")
        for i, (lit, premise) in enumerate(zip(rule.body, premises)):
            self._premise(f"{path}.premises[{i}]", lit, premise, b)
        if not self.model.holds(key[0], key[1:]):
            self.fail(path, f"{_show(key)} is not derivable from the inputs and the rules")
        self.open.pop()
        self.done.add(key)

    def _application(self, path: str, node: dict):
        try:
            rule = self.program.rule(node["rule"])
        except KeyError:
            self.fail(
                f"{path}.rule",
                f"no rule {node['rule']!r} in the rules" + (" under this reform" if self.described else ""),
            )
        b = node["bindings"]
        if node["citations"] != list(rule.cites):
            self.fail(
                f"{path}.citations", f"citations {node['citations']} do not match rule {rule.id}: {list(rule.cites)}"
            )
        variables = set(rule.head.vars()) | {v for lit in rule.body for v in lit.vars()}
        if set(b) - variables:
            self.fail(f"{path}.bindings", f"binds {sorted(set(b) - variables)}, which rule {rule.id} does not use")
        if _ground(rule.head, b) != list(node["atom"]):
            self.fail(
                path,
                f"rule {rule.id} under these bindings concludes {_show(_ground(rule.head, b))}, "
                f"not {_show(node['atom'])}",
            )
        return rule, b

    def _premise(self, path: str, lit, premise: dict, b: dict) -> None:
        kind = premise["kind"]
        if isinstance(lit, Positive):
            expected = _ground(lit.atom, b)
            if premise.get("atom") != expected:
                self.fail(path, f"premise is {_show(premise.get('atom'))}, the rule needs {_show(expected)}")
            self.node(path, premise)
        elif isinstance(lit, Negative):
            expected = _ground(lit.atom, b)
            if kind != "not" or premise.get("atom") != expected:
                self.fail(path, f"the rule needs 'not {_show(expected)}' here")
            self.tick()
            if self.model.holds(expected[0], tuple(expected[1:])):
                self.fail(path, f"{_show(expected)} is derivable, so 'not {_show(expected)}' is false")
            if None in expected:
                self.fail(path, f"'not {_show(expected)}' has an unbound argument")
            why = self.x.why_not(expected[0], tuple(expected[1:])).text
            if premise["why_not"] != why:
                self.fail(
                    f"{path}.why_not",
                    f"the rules say why not {_show(expected)}: {why!r}, the proof says {premise['why_not']!r}",
                )
        elif isinstance(lit, Assign):
            self.tick()
            value = self._eval(path, lit.expr, b)
            if kind != "assign":
                self.fail(path, f"the rule computes {lit} here, the proof gives a {kind!r} node")
            if premise["condition"] != str(lit) or premise["var"] != lit.var.name:
                self.fail(
                    path,
                    f"the rule's condition is {str(lit)!r} (variable {lit.var.name}), the proof says "
                    f"{premise['condition']!r} (variable {premise['var']})",
                )
            if premise["value"] != value or b.get(lit.var.name) != value or type(premise["value"]) is not type(value):
                self.fail(path, f"{lit} gives {value!r}, the proof says {premise.get('value')!r}")
        else:
            self.tick()
            left, right = self._eval(path, lit.left, b), self._eval(path, lit.right, b)
            if kind != "compare":
                self.fail(path, f"the rule compares {lit} here, the proof gives a {kind!r} node")
            if premise["condition"] != str(lit) or premise["op"] != lit.op:
                self.fail(
                    path,
                    f"the rule's condition is {str(lit)!r} (operator {lit.op}), the proof says "
                    f"{premise['condition']!r} (operator {premise['op']})",
                )
            if premise["left"] != left or premise["right"] != right:
                self.fail(
                    path,
                    f"{lit} compares {left!r} with {right!r}, the proof says "
                    f"{premise['left']!r} and {premise['right']!r}",
                )
            if not _compare(lit.op, left, right):
                self.fail(path, f"{left!r} {lit.op} {right!r} does not hold")

    def _eval(self, path: str, expr, b: dict):
        try:
            return evaluate(expr, b)
        except (KeyError, ArithmeticError, TypeError, ValueError) as e:
            self.fail(path, f"cannot compute {expr}: {type(e).__name__}")

    # ---- goals that do not hold

    def refutation(self, path: str, node: dict) -> None:
        self.tick()
        atom = node["atom"]
        rows = self.x.ask(atom[0], tuple(atom[1:]))
        if rows:
            self.fail(path, f"claims {_show(atom)} does not hold, but it is derivable")
        if None in atom[1:]:
            self.fail(f"{path}.atom", "a refutation is of a ground goal")
        expected = self.builder.refute(atom[0], tuple(atom[1:]))
        self._same_refutation(path, node, expected)

    def _same_refutation(self, path: str, node: dict, expected: dict) -> None:
        """Every field a reader reads must be the one the rules give; premises and blocking proofs are checked."""
        self.tick()
        for key in (
            "atom",
            "reason",
            "category",
            "rule",
            "citations",
            "bindings",
            "failed_at",
            "condition",
            "values",
            "tried",
            "obstacles",
        ):
            if node.get(key) != expected.get(key):
                what = {
                    "reason": "the reason",
                    "category": "the category",
                    "tried": "the rules tried",
                    "obstacles": "the list of every obstacle",
                }.get(key, key)
                self.fail(
                    f"{path}.{key}",
                    f"{what} is {_brief(expected.get(key), 300)} by the rules, the proof "
                    f"says {_brief(node.get(key), 300)}",
                )
        extra = set(node) - set(expected)
        if extra:
            self.fail(path, f"fields the refutation does not have: {sorted(extra)}")
        if "rule" in expected:
            rule = self.program.rule(expected["rule"])
            b = expected["bindings"]
            i = expected["failed_at"]
            if len(node["premises"]) != i:
                self.fail(path, f"{i} conditions hold before the failing one, the proof gives {len(node['premises'])}")
            for k, (lit, premise) in enumerate(zip(rule.body[:i], node["premises"])):
                self._premise(f"{path}.premises[{k}]", lit, premise, b)
            lit = rule.body[i]
            if isinstance(lit, Compare):
                left, right = self._eval(path, lit.left, b), self._eval(path, lit.right, b)
                if _compare(lit.op, left, right):
                    self.fail(path, f"{left!r} {lit.op} {right!r} holds, so the condition did not fail")
            elif isinstance(lit, Negative):
                blocked = _ground(lit.atom, b)
                if not self.model.holds(blocked[0], tuple(blocked[1:])):
                    self.fail(path, f"'not {_show(blocked)}' holds, so the condition did not fail")
        for key in ("because", "blocked_by"):
            if (key in node) != (key in expected):
                self.fail(f"{path}.{key}", "missing" if key in expected else "not part of this refutation")
        if "because" in expected:
            if node["because"]["kind"] != "refutation":
                self.fail(f"{path}.because", "the deeper reason is a refutation")
            self._same_refutation(f"{path}.because", node["because"], expected["because"])
        if "blocked_by" in expected:
            blocker = node["blocked_by"]
            if blocker.get("atom") != expected["blocked_by"]["atom"]:
                self.fail(
                    f"{path}.blocked_by",
                    f"what blocks the condition is {_show(expected['blocked_by']['atom'])}"
                    f", the proof says {_show(blocker.get('atom'))}",
                )
            self.node(f"{path}.blocked_by", blocker)

    # ---- the document as a whole

    def whole(self, conclusions: list, refutations: list) -> None:
        """The document rebuilt from its question and goals must be the document: nothing added or changed."""
        builder = ProofBuilder(self.x, self.case, self.reform)  # fresh: the producer's order of proving
        rebuilt = builder.document(
            [(n["atom"][0], tuple(n["atom"][1:])) for n in conclusions],
            [(n["atom"][0], tuple(n["atom"][1:])) for n in refutations],
        )
        rebuilt["question"]["source"] = self.doc["question"]["source"]
        difference = _difference("", self.doc, json.loads(json.dumps(rebuilt)))
        if difference:
            self.fail(*difference)


def _compare(op: str, left, right) -> bool:
    try:
        return bool(COMPARISONS[op](left, right))
    except TypeError:
        return False


def _difference(path: str, given, expected) -> tuple[str, str] | None:
    """The first place where two JSON values differ (path, what differs)."""
    if type(given) is not type(expected):
        return path, f"is {_brief(given)}, the rules give {_brief(expected)}"
    if isinstance(given, dict):
        for k in list(expected) + [k for k in given if k not in expected]:
            at = f"{path}.{k}".lstrip(".") if k.isidentifier() else f"{path}[{json.dumps(k)}]"  # a key by atom
            if k not in given:
                return at, "missing"
            if k not in expected:
                return at, "not part of the proof the rules give"
            d = _difference(at, given[k], expected[k])
            if d:
                return d
        return None
    if isinstance(given, list):
        for i, (g, e) in enumerate(zip(given, expected)):
            d = _difference(f"{path}[{i}]", g, e)
            if d:
                return d
        if len(given) != len(expected):
            return path, f"has {len(given)} entries, the rules give {len(expected)}"
        return None
    if given != expected:
        return path, f"is {_brief(given)}, the rules give {_brief(expected)}"
    return None


# ---- a decision document (`aidkb decide --json`)

DECISION_FIELDS = {
    "id",
    "title",
    "as_of",
    "mode",
    "regime",
    "status",
    "license_required",
    "authorized_by",
    "not_available",
    "uncertain",
    "red_flags",
    "review_policy",
    "obligations",
    "citations",
    "reasons",
    "caveats",
    "no_licence_because",
    "what_if",
    "ruleset_version",
    "proof",
    "obstacles",
}


def _contested_caveats(checker: _Checker, outcome: dict, c: str) -> list[str]:
    """The caveats on contested listings (graded U) of the countries the case involves, each with the answer
    without that listing, decided again on the bottom-up model (as queries/decide.py does with the engine)."""
    import types

    from .decide import Decision, read_outcome

    onto, inputs = checker.onto, checker.inputs
    on = ontology.date_number(checker.case.as_of)
    involved = {f[2] for f in inputs if f[0] in ("destination", "hq", "declared_parent_hq")} | {
        f[3] for f in inputs if f[0] == "entity_hq"
    }

    def key(o: dict) -> tuple:
        return (
            o["required"],
            tuple(o["authorized"]),
            tuple(sorted(a[1] for a in o["answers"]["uncertain_route"])),
            o["review_policy"],
        )

    out = []
    for m in onto.memberships:
        if not (m.grade == "U" and m.code in involved and m.valid_from <= on < m.valid_to):
            continue
        checker.tick()
        without = parse_operations(
            [{"remove_from_group": {"country": m.code, "group": m.group}}], "proof", "contested listing", onto
        )
        reform = Reform(checker.reform.operations + without)
        model = Model(checker.program, list(reform.apply(onto.facts())) + list(inputs), MODEL_BUDGET)
        other = read_outcome(
            Explainer(_ModelEngine(model, checker.program), checker.program, onto), checker.program, onto, c
        )
        head = f"Contested listing: {onto.countries[m.code]} ({m.code}) in {m.group} ({m.citation}): {m.note}."
        if key(other) == key(outcome):
            out.append(f"{head} Without that listing the answer is the same.")
        else:
            text = Decision.outcome_text(
                types.SimpleNamespace(  # type: ignore[arg-type]  # the fields it reads
                    license_required=other["required"],
                    authorized_by=other["authorized"],
                    uncertain={a[1]: "" for a in other["answers"]["uncertain_route"]},
                    review_policy=other["review_policy"],
                )
            )
            out.append(f"{head} Without that listing the answer would differ: {text}.")
    return out


def _answers(checker: _Checker, decision: dict) -> None:
    """Each answer field of a decision must be what its (checked) proof gives."""
    from .decide import _caveats, _label, obstacles_of, read_outcome

    fields = DECISION_FIELDS if checker.written is not None else DECISION_FIELDS - {"obstacles"}  # decision.v1
    for key in decision:
        if key not in fields:
            checker.fail(key, "not a field of a decision")
    for key in fields - set(decision):
        checker.fail(key, "missing field of a decision")
    decision = {**decision, "proof": checker.doc}  # the proof tree read (from proof.v2, its values as the engine's)
    proof, program, q = decision["proof"], checker.program, decision["proof"]["question"]
    c = q["case"]
    o = read_outcome(checker.x, program, checker.onto, c)
    answers, required, conclusions, failed = o["answers"], o["required"], o["conclusions"], o["failed"]
    given = [n["atom"] for n in proof["conclusions"]]
    if given != [[p, *a] for p, a in conclusions]:
        checker.fail(
            "proof.conclusions",
            "the decision's proof must prove every answer the rules give, in order: "
            + ", ".join(_show([p, *a]) for p, a in conclusions),
        )
    if [n["atom"] for n in proof["refutations"]] != [[p, *a] for p, a in failed]:
        checker.fail(
            "proof.refutations",
            "the decision's proof must refute " + (", ".join(_show([p, *a]) for p, a in failed) or "nothing"),
        )
    nodes = proof["conclusions"]
    status = [n["sentence"] for (p, _), n in zip(conclusions, nodes) if p == "status"]
    stated = [n["sentence"] for (p, _), n in zip(conclusions, nodes) if p == "caveat"]
    fired = [r for n in nodes for r in rules_in(n, program)]
    rules_used = fired + [r for n in proof["refutations"] for r in rules_in(n, program)]
    bound = [(program.rule(n["rule"]), n["bindings"]) for n in nodes + proof["refutations"] if n.get("rule")]
    expected = {
        "id": c,
        "as_of": q["as_of"],
        "mode": q["mode"],
        "ruleset_version": proof["ruleset_version"],
        "what_if": checker.described,
        "regime": answers["regime"][0][1] if answers["regime"] else "undetermined",
        "status": " ".join(dict.fromkeys(status)) or "legal status unknown on this date",
        "license_required": required,
        "authorized_by": o["authorized"],
        "not_available": {a[1]: n["reason"] for (_, a), n in zip(failed, proof["refutations"])} if required else {},
        **(
            {
                "obstacles": {a[1]: obstacles_of(n) for (_, a), n in zip(failed, proof["refutations"])}
                if required
                else {}
            }
            if "obstacles" in fields
            else {}
        ),
        "uncertain": {a[1]: checker.full[("uncertain_route", *a)][1]["sentence"] for a in answers["uncertain_route"]},
        "red_flags": sorted({a[1] for a in answers["red_flag"]}),
        "review_policy": o["review_policy"],
        "obligations": sorted({a[1] for a in answers["obligation"]}),
        "citations": list(dict.fromkeys(cite for rule in rules_used for cite in rule.cites)),
        "reasons": [
            {"conclusion": _label(p, a), "rule": n["rule"], "citations": n["citations"], "text": n["sentence"]}
            for (p, a), n in zip(conclusions, nodes)
            if p not in ("status", "caveat")
        ],
        "no_licence_because": None if required else proof["refutations"][0]["reason"],
        "caveats": list(dict.fromkeys(stated + _caveats(fired, bound, checker.onto, checker.case)))
        + _contested_caveats(checker, o, c),
    }
    for key, value in expected.items():
        if decision[key] != value or type(decision[key]) is not type(value):
            checker.fail(key, f"the proof gives {_brief(value, 300)}, the decision says {_brief(decision[key], 300)}")
    if not isinstance(decision["title"], str):
        checker.fail("title", "must be text")


def check_proof(doc, program: Program | None = None, onto: ontology.Ontology | None = None) -> CheckResult:
    """Validate a proof.v1 document, or a decision document (`decide --json`) with its proof; the first bad step
    is reported. Never raises: a malformed document is an INVALID result whose error begins with its path."""
    checker = _Checker(doc, program or baseline_program(), onto or ontology.load())
    try:
        _scan(doc)
        if isinstance(doc, dict) and "proof" in doc and "format" not in doc:
            checker.doc = doc["proof"]
            try:
                checker.run()
            except BadStep as e:
                raise BadStep(f"proof.{e.path}" if e.path else "proof", e.message) from None
            _answers(checker, doc)
        else:
            checker.run()
    except BadStep as e:
        return CheckResult(False, checker.steps, _keyed(str(e), checker.keys), checker.described)
    except RecursionError:
        return CheckResult(False, checker.steps, "error: the document is nested too deeply to check", checker.described)
    except (AidkbError, ArithmeticError, TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        return CheckResult(
            False,
            checker.steps,
            f"error: the document cannot be checked ({type(e).__name__}: {_brief(str(e))})",
            checker.described,
        )
    old = (
        None
        if checker.written is not None
        else (f"a {FORMAT} document (the previous format), checked as written; `aidkb convert-proof` writes it as {V2}")
    )
    return CheckResult(True, checker.steps, None, checker.described, old)


def _keyed(error: str, keys: dict[str, list[str]]) -> str:
    """A path into the proof tree as the proof.v2 document's: conclusions[2] is conclusions["<its atom>"]."""

    def key(m: re.Match) -> str:
        names = keys.get(m.group(2), [])
        i = int(m.group(3))
        return f"{m.group(1)}{m.group(2)}[{json.dumps(names[i])}]" if i < len(names) else m.group(0)

    return re.sub(r"^((?:proof\.)?)(conclusions|refutations)\[(\d+)\]", key, error) if keys else error


def _rule_operations(doc) -> bool:
    proof = doc.get("proof") if isinstance(doc, dict) and "format" not in doc else doc
    q = proof.get("question") if isinstance(proof, dict) else None
    ops = q.get("what_if") if isinstance(q, dict) else None
    return isinstance(ops, list) and any(isinstance(o, dict) and o.get("op") in RULE_OPS for o in ops)


def check_bounded(doc, seconds: float = 2 * CPU_SECONDS) -> CheckResult:
    """check_proof, with a wall-clock deadline when the document carries rule operations: rules of its own can
    make an evaluation that derives nothing run for ever (a join that never ends), which no counter inside the
    evaluation sees; the check then runs in a worker process that is killed at the deadline (kb/deadline.py)."""
    if not _rule_operations(doc):
        return check_proof(doc)
    from aidkb.kb.deadline import DeadlineExceeded, Worker

    with Worker(seconds) as worker:
        try:
            return worker.call(check_proof, doc)
        except DeadlineExceeded:
            return CheckResult(
                False,
                0,
                f"error: the check did not finish within {seconds:g} s (the rules the "
                "proof carries do not reach a fixpoint in time)",
            )


def check_text(
    text: str, program: Program | None = None, onto: ontology.Ontology | None = None, seconds: float = 2 * CPU_SECONDS
) -> CheckResult:
    """Check a document given as JSON text (a `decide --json` or `explain --format json` output)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return CheckResult(False, 0, f"error: not JSON: line {e.lineno}, column {e.colno}: {e.msg}")
    except RecursionError:
        return CheckResult(False, 0, "error: the document is nested too deeply to read")
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        return CheckResult(False, 0, f"error: not readable JSON: {_brief(str(e))}")
    if program is None and onto is None:
        return check_bounded(doc, seconds)
    return check_proof(doc, program, onto)


def check_file(path, program: Program | None = None, onto: ontology.Ontology | None = None) -> tuple[int, str]:
    """What `aidkb check-proof FILE` prints and exits with: 0 valid, 1 invalid, 2 unreadable."""
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        return 2, f"{path}: error: cannot read: {e}"
    result = check_text(text, program, onto)
    if result.error and result.error.startswith("error: not JSON"):
        return 2, f"{path}: {result.error}"
    return (0 if result.valid else 1), f"{path}: {result.verdict()}"
