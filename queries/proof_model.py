"""The proof.v2 document as typed data: one frozen dataclass per node kind, typed values, one `children()` walker.

`read(document)` turns a proof.v2 JSON document into a `ProofDocument`; `write(proof)` turns it back into the
JSON document, exactly (same keys, same order, same values: `json.dumps` of both is the same text). Values are
typed: a date is a `datetime.date`, an unbounded validity bound is `OPEN`, an exact integer carries its unit
(`Amount`), a share computed for display is an exact `fractions.Fraction` with its unit (`Share`), a country
carries its code and name (`Country`); names and ids stay strings. This module is the one place where proof.v2
JSON is read into nodes or written from them (queries/proof_v2.py gives the JSON its types from the rules).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias

FORMAT = "proof.v2"


class ModelError(ValueError):
    """A document that is not a proof.v2 document: `path` names the place, `message` what is wrong there."""

    def __init__(self, path: str, message: str):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


class BadValueType(ModelError):
    """A value that is none of proof.v2's typed forms."""


# ---- values


@dataclass(frozen=True)
class Open:
    """The unbounded side of a validity (no beginning, or no end): never a sentinel date."""

    def __str__(self) -> str:
        return "open"


OPEN = Open()


@dataclass(frozen=True)
class Amount:
    """An exact integer with its unit: TPP, operations, units, percent, factor, GB/s or number."""

    value: int
    unit: str


@dataclass(frozen=True)
class Share:
    """A non-integer number the rules compute for display (a share in percent), exact, with its unit."""

    value: Fraction
    unit: str


@dataclass(frozen=True)
class Country:
    code: str
    name: str


Value: TypeAlias = str | bool | None | dt.date | Open | Amount | Share | Country
TYPED = (dt.date, Open, Amount, Share, Country)

VALUE_FORMS = "a value is a string, null, {date}, {amount, unit}, {decimal, unit} or {country, name}"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?")
MAX_DIGITS = 60  # of an amount or a share: beyond, a document is refused (no 5,000-digit integers)


def decimal_text(value: Fraction) -> str:
    """The exact decimal text of a fraction whose denominator has no prime factor but 2 and 5 (what a decimal
    number read from text is), always with a fractional part (a whole number is an Amount): "8.25", "-0.00001",
    "85.0"."""
    sign, value = ("-" if value < 0 else ""), abs(value)
    places, scaled = 0, value
    while scaled.denominator != 1:
        if places > MAX_DIGITS:
            raise ValueError(f"{value} has no exact decimal text")
        places, scaled = places + 1, scaled * 10
    digits = str(scaled.numerator).rjust(places + 1, "0")
    return sign + (f"{digits[:-places]}.{digits[-places:]}" if places else f"{digits}.0")


def read_value(value: Any, path: str) -> Value:
    """A proof.v2 value as a typed value."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if not isinstance(value, dict):
        raise BadValueType(path, VALUE_FORMS)
    if set(value) == {"date"} and isinstance(value["date"], str):
        if value["date"] == "open":
            return OPEN
        try:
            if not _ISO_DATE.fullmatch(value["date"]):
                raise ValueError
            return dt.date.fromisoformat(value["date"])
        except ValueError:
            raise BadValueType(f"{path}.date", f"not a date YYYY-MM-DD: {value['date'][:40]!r}") from None
    if set(value) == {"amount", "unit"} and type(value["amount"]) is int and isinstance(value["unit"], str):
        if abs(value["amount"]) >= 10**MAX_DIGITS:
            raise BadValueType(f"{path}.amount", f"more than {MAX_DIGITS} digits")
        return Amount(value["amount"], value["unit"])
    if set(value) == {"decimal", "unit"} and isinstance(value["decimal"], str) and isinstance(value["unit"], str):
        text = value["decimal"]
        if len(text) > MAX_DIGITS or not _DECIMAL.fullmatch(text):
            raise BadValueType(f"{path}.decimal", f"not a decimal number: {text[:40]!r}")
        return Share(Fraction(text), value["unit"])
    if set(value) == {"country", "name"} and all(isinstance(value[k], str) for k in ("country", "name")):
        return Country(value["country"], value["name"])
    raise BadValueType(path, VALUE_FORMS)


def write_value(value: Value) -> Any:
    """A typed value as proof.v2 writes it."""
    if isinstance(value, Open):
        return {"date": "open"}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, Amount):
        return {"amount": value.value, "unit": value.unit}
    if isinstance(value, Share):
        return {"decimal": decimal_text(value.value), "unit": value.unit}
    if isinstance(value, Country):
        return {"country": value.code, "name": value.name}
    return value


# ---- atoms and sources


@dataclass(frozen=True)
class Atom:
    pred: str
    args: tuple[Value, ...]


@dataclass(frozen=True)
class CaseSource:
    """An input fact: the case file (or request) and its field."""

    file: str | None
    field: str


@dataclass(frozen=True)
class OntologySource:
    """A base fact of the ontology: its IRI, with the grade and citation where the ontology gives them."""

    iri: str
    grade: str | None = None
    citation: str | None = None


@dataclass(frozen=True)
class ParameterSource:
    """One dated value of a parameter of the law."""

    iri: str
    name: str
    value: Value
    valid_from: Value
    valid_to: Value
    citation: str | None
    grade: str | None


@dataclass(frozen=True)
class ReformSource:
    """A base fact the what-if operations added."""

    what_if: tuple[str, ...]


Source: TypeAlias = CaseSource | OntologySource | ParameterSource | ReformSource


# ---- nodes


@dataclass(frozen=True)
class RuleApplication:
    """A derived fact: the rule that concludes it, its bindings and sentence, one premise per body literal."""

    atom: Atom
    rule: str
    citations: tuple[str, ...]
    bindings: Mapping[str, Value]
    sentence: str
    premises: tuple[Node, ...]


@dataclass(frozen=True)
class Fact:
    """An input or base fact, with where it comes from."""

    atom: Atom
    source: Source


@dataclass(frozen=True)
class Comparison:
    condition: str
    op: str
    left: Value
    right: Value


@dataclass(frozen=True)
class Assignment:
    condition: str
    var: str
    value: Value


@dataclass(frozen=True)
class Negation:
    """A negated body literal that holds: the absent atom and why it does not hold."""

    atom: Atom
    why_not: str


@dataclass(frozen=True)
class Ref:
    """A derived fact whose proof is written out elsewhere in the document."""

    atom: Atom


@dataclass(frozen=True)
class Attempt:
    """A rule that could derive a goal and the condition where it fails, in words."""

    rule: str
    failed_at: int
    condition: str
    reason: str


@dataclass(frozen=True)
class Compared:
    """The values of a failing comparison."""

    left: Value
    op: str
    right: Value


@dataclass(frozen=True)
class Refutation:
    """Why a goal does not hold: the best partial match (`rule` None when no rule could apply), its first failing
    condition, the rules tried, the deeper reason (`because`), what blocks it, and every obstacle."""

    atom: Atom
    reason: str
    category: str
    rule: str | None = None
    citations: tuple[str, ...] = ()
    bindings: Mapping[str, Value] | None = None
    failed_at: int | None = None
    condition: str | None = None
    premises: tuple[Node, ...] = ()
    tried: tuple[Attempt, ...] = ()
    values: Compared | None = None
    because: Refutation | None = None
    blocked_by: Node | None = None
    obstacles: tuple[Attempt, ...] | None = None


Node: TypeAlias = RuleApplication | Fact | Comparison | Assignment | Negation | Ref | Refutation


@dataclass(frozen=True)
class Operation:
    """A what-if operation in its input form (what a reform file says)."""

    op: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    case: str
    source: str | None
    as_of: dt.date
    mode: str
    what_if: tuple[Operation, ...]
    inputs: tuple[Atom, ...]


@dataclass(frozen=True)
class ProofDocument:
    """A proof.v2 document: the question, the rule-set and words versions, the proofs keyed by atom."""

    ruleset_version: str
    words: str
    question: Question
    conclusions: Mapping[str, Node]
    refutations: Mapping[str, Refutation]
    truncated: tuple[str, ...] | None = None


def children(node: Node) -> list[tuple[str, Node]]:
    """A node's children with their path suffixes (".premises[0]", ".because", ".blocked_by"), in document order."""
    if isinstance(node, RuleApplication):
        return [(f".premises[{i}]", p) for i, p in enumerate(node.premises)]
    if not isinstance(node, Refutation):
        return []
    out: list[tuple[str, Node]] = [(f".premises[{i}]", p) for i, p in enumerate(node.premises)]
    if node.because is not None:
        out.append((".because", node.because))
    if node.blocked_by is not None:
        out.append((".blocked_by", node.blocked_by))
    return out


def walk(node: Node, path: str = ""):
    """Every node of a tree with its path, in pre-order."""
    yield path, node
    for suffix, child in children(node):
        yield from walk(child, path + suffix)


# ---- reading


class _Reader:
    def __init__(self, typed: bool):
        self.typed = typed  # values already typed (a tree the producer wrote), not JSON

    def value(self, value: Any, path: str) -> Value:
        return value if self.typed and isinstance(value, TYPED) else read_value(value, path)

    def fields(self, data: Any, path: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
        if not isinstance(data, dict):
            raise ModelError(path, "must be an object")
        for k in data:
            if k not in required and k not in optional:
                raise ModelError(_at(path, str(k)[:40]), "unknown field")
        for k in required:
            if k not in data:
                raise ModelError(_at(path, k), "missing")
        return data

    @staticmethod
    def text(data: dict, key: str, path: str, optional: bool = False) -> Any:
        value = data.get(key)
        if not isinstance(value, str) and not (optional and value is None):
            raise ModelError(f"{path}.{key}", "must be text")
        return value

    def texts(self, data: dict, key: str, path: str) -> tuple[str, ...]:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ModelError(f"{path}.{key}", "must be a list of texts")
        return tuple(value)

    def atom(self, data: Any, path: str) -> Atom:
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise ModelError(path, "an atom is [predicate, arg, ...]")
        return Atom(data[0], tuple(self.value(a, f"{path}[{i + 1}]") for i, a in enumerate(data[1:])))

    def bindings(self, data: Any, path: str) -> dict[str, Value]:
        if not isinstance(data, dict):
            raise ModelError(path, "must be an object of variables")
        return {str(k): self.value(v, f"{path}.{k}") for k, v in data.items()}

    def index(self, data: dict, key: str, path: str) -> int:
        value = data.get(key)
        if type(value) is not int or not 0 <= value < 10_000:
            raise ModelError(f"{path}.{key}", "must be a body position")
        return value

    def source(self, data: Any, path: str) -> Source:
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "case":
            d = self.fields(data, path, ("type", "file", "field"))
            return CaseSource(self.text(d, "file", path, optional=True), self.text(d, "field", path))
        if kind == "ontology":
            d = self.fields(data, path, ("type", "iri"), ("grade", "citation"))
            return OntologySource(
                self.text(d, "iri", path), self.text(d, "grade", path, True), self.text(d, "citation", path, True)
            )
        if kind == "parameter":
            keys = ("type", "iri", "name", "value", "valid_from", "valid_to", "citation", "grade")
            d = self.fields(data, path, keys)
            return ParameterSource(
                self.text(d, "iri", path),
                self.text(d, "name", path),
                self.value(d["value"], f"{path}.value"),
                self.value(d["valid_from"], f"{path}.valid_from"),
                self.value(d["valid_to"], f"{path}.valid_to"),
                self.text(d, "citation", path, True),
                self.text(d, "grade", path, True),
            )
        if kind == "reform":
            d = self.fields(data, path, ("type", "what_if"))
            return ReformSource(self.texts(d, "what_if", path))
        raise ModelError(f"{path}.type", "a source is of type case, ontology, parameter or reform")

    def attempt(self, data: Any, path: str) -> Attempt:
        d = self.fields(data, path, ("rule", "failed_at", "condition", "reason"))
        return Attempt(
            self.text(d, "rule", path),
            self.index(d, "failed_at", path),
            self.text(d, "condition", path),
            self.text(d, "reason", path),
        )

    def attempts(self, data: Any, path: str) -> tuple[Attempt, ...]:
        if not isinstance(data, list):
            raise ModelError(path, "must be a list")
        return tuple(self.attempt(a, f"{path}[{i}]") for i, a in enumerate(data))

    def premises(self, data: Any, path: str, depth: int) -> tuple[Node, ...]:
        if not isinstance(data, list):
            raise ModelError(path, "must be a list of premises")
        return tuple(self.node(p, f"{path}[{i}]", depth + 1) for i, p in enumerate(data))

    def node(self, data: Any, path: str, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise ModelError(path, f"nested deeper than {MAX_DEPTH} levels")
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind == "rule":
            d = self.fields(data, path, ("kind", "atom", "rule", "citations", "bindings", "sentence", "premises"))
            return RuleApplication(
                self.atom(d["atom"], f"{path}.atom"),
                self.text(d, "rule", path),
                self.texts(d, "citations", path),
                self.bindings(d["bindings"], f"{path}.bindings"),
                self.text(d, "sentence", path),
                self.premises(d["premises"], f"{path}.premises", depth),
            )
        if kind == "fact":
            d = self.fields(data, path, ("kind", "atom", "source"))
            return Fact(self.atom(d["atom"], f"{path}.atom"), self.source(d["source"], f"{path}.source"))
        if kind == "compare":
            d = self.fields(data, path, ("kind", "condition", "op", "left", "right"))
            return Comparison(
                self.text(d, "condition", path),
                self.text(d, "op", path),
                self.value(d["left"], f"{path}.left"),
                self.value(d["right"], f"{path}.right"),
            )
        if kind == "assign":
            d = self.fields(data, path, ("kind", "condition", "var", "value"))
            return Assignment(
                self.text(d, "condition", path), self.text(d, "var", path), self.value(d["value"], f"{path}.value")
            )
        if kind == "not":
            d = self.fields(data, path, ("kind", "atom", "why_not"))
            return Negation(self.atom(d["atom"], f"{path}.atom"), self.text(d, "why_not", path))
        if kind == "ref":
            d = self.fields(data, path, ("kind", "atom"))
            return Ref(self.atom(d["atom"], f"{path}.atom"))
        if kind == "refutation":
            return self.refutation(data, path, depth)
        raise ModelError(f"{path}.kind", "a node is of kind rule, fact, compare, assign, not, ref or refutation")

    def refutation(self, data: Any, path: str, depth: int = 0) -> Refutation:
        if depth > MAX_DEPTH:
            raise ModelError(path, f"nested deeper than {MAX_DEPTH} levels")
        matched = ("rule", "citations", "bindings", "failed_at", "condition", "premises", "tried")
        optional = matched + ("values", "because", "blocked_by", "obstacles")
        d = self.fields(data, path, ("kind", "atom", "reason", "category"), optional)
        if d.get("kind") != "refutation":
            raise ModelError(f"{path}.kind", "must be refutation")
        atom, reason, category = self.atom(d["atom"], f"{path}.atom"), d["reason"], d["category"]
        if not isinstance(reason, str) or not isinstance(category, str):
            raise ModelError(f"{path}.reason", "the reason and category must be text")
        obstacles = self.attempts(d["obstacles"], f"{path}.obstacles") if "obstacles" in d else None
        if "rule" not in d:
            if set(d) - {"kind", "atom", "reason", "category", "obstacles"}:
                raise ModelError(f"{path}.rule", "missing (a refutation that matched a rule names it)")
            return Refutation(atom, reason, category, obstacles=obstacles)
        self.fields(d, path, ("kind", "atom", "reason", "category") + matched, optional)
        values = None
        if "values" in d:
            v = self.fields(d["values"], f"{path}.values", ("left", "op", "right"))
            values = Compared(
                self.value(v["left"], f"{path}.values.left"),
                self.text(v, "op", f"{path}.values"),
                self.value(v["right"], f"{path}.values.right"),
            )
        return Refutation(
            atom,
            reason,
            category,
            self.text(d, "rule", path),
            self.texts(d, "citations", path),
            self.bindings(d["bindings"], f"{path}.bindings"),
            self.index(d, "failed_at", path),
            self.text(d, "condition", path),
            self.premises(d["premises"], f"{path}.premises", depth),
            self.attempts(d["tried"], f"{path}.tried"),
            values,
            self.refutation(d["because"], f"{path}.because", depth + 1) if "because" in d else None,
            self.node(d["blocked_by"], f"{path}.blocked_by", depth + 1) if "blocked_by" in d else None,
            obstacles,
        )

    def question(self, data: Any, path: str) -> Question:
        d = self.fields(data, path, ("case", "source", "as_of", "mode", "what_if", "inputs"))
        try:
            as_of = self.value({"date": self.text(d, "as_of", path)}, f"{path}.as_of")
            if not isinstance(as_of, dt.date):
                raise ValueError
        except (ValueError, ModelError):
            raise ModelError(f"{path}.as_of", "must be a date YYYY-MM-DD") from None
        ops = d["what_if"]
        if not isinstance(ops, list):
            raise ModelError(f"{path}.what_if", "must be a list of operations")
        what_if = []
        for i, o in enumerate(ops):
            o = self.fields(o, f"{path}.what_if[{i}]", ("op", "args"))
            if not isinstance(o["args"], dict):
                raise ModelError(f"{path}.what_if[{i}].args", "must be an object")
            what_if.append(Operation(self.text(o, "op", f"{path}.what_if[{i}]"), o["args"]))
        if not isinstance(d["inputs"], list):
            raise ModelError(f"{path}.inputs", "must be a list of atoms")
        return Question(
            self.text(d, "case", path),
            self.text(d, "source", path, optional=True),
            as_of,
            self.text(d, "mode", path),
            tuple(what_if),
            tuple(self.atom(a, f"{path}.inputs[{i}]") for i, a in enumerate(d["inputs"])),
        )


MAX_DEPTH = 200  # of a proof tree: deeper documents are refused (the producer writes far shallower ones)


def read(document: Any, path: str = "proof", typed: bool = False) -> ProofDocument:
    """A proof.v2 JSON document as typed nodes (ModelError names the first place that is not proof.v2); `typed`:
    a document whose values are typed values already (as queries/proof_v2.py types a proof tree)."""
    r = _Reader(typed)
    top = ("format", "ruleset_version", "words", "question", "conclusions", "refutations")
    d = r.fields(document, path, top, ("truncated",))
    if d["format"] != FORMAT:
        raise ModelError(_at(path, "format"), f"must be {FORMAT}")
    sections = {}
    for section in ("conclusions", "refutations"):
        if not isinstance(d[section], dict):
            raise ModelError(_at(path, section), "must be an object keyed by atom")
        read_one = r.refutation if section == "refutations" else r.node
        where = f"{path}.{section}" if path else section
        sections[section] = {k: read_one(n, f"{where}[{json.dumps(k[:80])}]") for k, n in d[section].items()}
    return ProofDocument(
        r.text(d, "ruleset_version", path),
        r.text(d, "words", path),
        r.question(d["question"], _at(path, "question")),
        sections["conclusions"],
        sections["refutations"],  # type: ignore[arg-type]
        r.texts(d, "truncated", path) if "truncated" in d else None,
    )


def read_atom(data: Any, path: str = "", typed: bool = False) -> Atom:
    """One atom, [pred, arg, ...]; `typed`: its values typed already."""
    return _Reader(typed).atom(data, path)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ---- writing


class _Writer:
    def __init__(self, typed: bool):
        self.value: Callable[[Value], Any] = (lambda v: v) if typed else write_value

    def atom(self, atom: Atom) -> list:
        return [atom.pred, *(self.value(a) for a in atom.args)]

    def source(self, s: Source) -> dict:
        if isinstance(s, CaseSource):
            return {"type": "case", "file": s.file, "field": s.field}
        if isinstance(s, OntologySource):
            out: dict[str, Any] = {"type": "ontology", "iri": s.iri}
            if s.grade is not None:
                out["grade"] = s.grade
            if s.citation is not None:
                out["citation"] = s.citation
            return out
        if isinstance(s, ParameterSource):
            return {
                "type": "parameter",
                "iri": s.iri,
                "name": s.name,
                "value": self.value(s.value),
                "valid_from": self.value(s.valid_from),
                "valid_to": self.value(s.valid_to),
                "citation": s.citation,
                "grade": s.grade,
            }
        return {"type": "reform", "what_if": list(s.what_if)}

    @staticmethod
    def attempt(a: Attempt) -> dict:
        return {"rule": a.rule, "failed_at": a.failed_at, "condition": a.condition, "reason": a.reason}

    def bindings(self, b: Mapping[str, Value]) -> dict:
        return {k: self.value(v) for k, v in b.items()}

    def node(self, node: Node) -> dict:
        if isinstance(node, RuleApplication):
            return {
                "kind": "rule",
                "atom": self.atom(node.atom),
                "rule": node.rule,
                "citations": list(node.citations),
                "bindings": self.bindings(node.bindings),
                "sentence": node.sentence,
                "premises": [self.node(p) for p in node.premises],
            }
        if isinstance(node, Fact):
            return {"kind": "fact", "atom": self.atom(node.atom), "source": self.source(node.source)}
        if isinstance(node, Comparison):
            return {
                "kind": "compare",
                "condition": node.condition,
                "op": node.op,
                "left": self.value(node.left),
                "right": self.value(node.right),
            }
        if isinstance(node, Assignment):
            return {"kind": "assign", "condition": node.condition, "var": node.var, "value": self.value(node.value)}
        if isinstance(node, Negation):
            return {"kind": "not", "atom": self.atom(node.atom), "why_not": node.why_not}
        if isinstance(node, Ref):
            return {"kind": "ref", "atom": self.atom(node.atom)}
        return self.refutation(node)

    def refutation(self, node: Refutation) -> dict:
        out: dict[str, Any] = {
            "kind": "refutation",
            "atom": self.atom(node.atom),
            "reason": node.reason,
            "category": node.category,
        }
        if node.rule is not None:
            out.update(
                {
                    "rule": node.rule,
                    "citations": list(node.citations),
                    "bindings": self.bindings(node.bindings or {}),
                    "failed_at": node.failed_at,
                    "condition": node.condition,
                    "premises": [self.node(p) for p in node.premises],
                    "tried": [self.attempt(a) for a in node.tried],
                }
            )
        if node.values is not None:
            v = node.values
            out["values"] = {"left": self.value(v.left), "op": v.op, "right": self.value(v.right)}
        if node.because is not None:
            out["because"] = self.node(node.because)
        if node.blocked_by is not None:
            out["blocked_by"] = self.node(node.blocked_by)
        if node.obstacles is not None:
            out["obstacles"] = [self.attempt(a) for a in node.obstacles]
        return out

    def document(self, proof: ProofDocument) -> dict:
        q = proof.question
        out: dict[str, Any] = {
            "format": FORMAT,
            "ruleset_version": proof.ruleset_version,
            "words": proof.words,
            "question": {
                "case": q.case,
                "source": q.source,
                "as_of": q.as_of.isoformat(),
                "mode": q.mode,
                "what_if": [{"op": o.op, "args": o.args} for o in q.what_if],
                "inputs": [self.atom(a) for a in q.inputs],
            },
            "conclusions": {k: self.node(n) for k, n in proof.conclusions.items()},
            "refutations": {k: self.node(n) for k, n in proof.refutations.items()},
        }
        if proof.truncated is not None:
            out["truncated"] = list(proof.truncated)
        return out


def write_node(node: Node, typed: bool = False) -> dict:
    """One node as proof.v2 writes it (`typed`: with its values typed, not in JSON)."""
    return _Writer(typed).node(node)


def write_atom(atom: Atom) -> list:
    """One atom as proof.v2 writes it: [pred, arg, ...]."""
    return _Writer(False).atom(atom)


def write(proof: ProofDocument, typed: bool = False) -> dict:
    """A ProofDocument as its proof.v2 JSON document, the inverse of `read` (`typed`: with typed values)."""
    return _Writer(typed).document(proof)
