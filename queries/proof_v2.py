"""proof.v2: the proof document with typed values (schema in queries/schemas/proof.v2.json).

The producer and the checker work on one tree (queries/proof.py, the engine's values: dates as yyyymmdd numbers);
this module gives that tree's values their types (`to_model`: the typed nodes of queries/proof_model.py, which
alone reads and writes proof.v2 JSON) and reads a document back into the tree, losslessly. In proof.v2
- a date is {"date": "2025-05-15"}, and an unbounded validity is {"date": "open"} (never 1900-01-01 or 9999-12-31);
- a number is an exact integer with its unit, {"amount": 26900000, "unit": "TPP"} (a share computed for display,
  the one non-integer, is {"decimal": "8.25", "unit": "percent"}: the exact text of the number);
- a country is {"country": "MY", "name": "Malaysia"};
- conclusions and refutations are objects keyed by their atom ("license_required(case-1)"), never by position;
- the document names the rule-set version and the words version (the renderer's wording, WORDS), and its
  question carries the what-if operations in input form, the text of any added or replaced rule included.

A value's type comes from where it stands: the declared argument of an input or base fact (kb/rules/base.dl),
propagated through the rules to the variables and the derived facts; a parameter's value has the unit the
ontology gives that parameter. `Typing` computes this once per program.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from aidkb import ontology
from aidkb.kb.syntax import Assign, BinOp, Compare, Const, Expr, Negative, Positive, Program, Rule, Var

from . import proof_model as model
from .explain import BEGINNING, OPEN_END

FORMAT = "proof.v2"
WORDS = "words.5"  # the wording of sentences and why-nots; bumped whenever the renderer's words change
SECTIONS = ("conclusions", "refutations")

# The declared arguments' names (kb/rules/base.dl) that carry a type; other arguments are names and ids.
ARGUMENT_TYPES = {
    "Date": "date",
    "FromDate": "from",
    "ToDate": "until",
    "Tpp": "TPP",
    "Ops": "operations",
    "Country": "country",
    "Quantity": "units",
    "GbS": "GB/s",
    "Global": "TPP",
    "Tier1": "TPP",
    "Us": "TPP",
    "InDestination": "TPP",
    "Cumulative": "TPP",
}
PARAMETER = "parameter@"  # a parameter's value: its unit is the named parameter's ("parameter@1": named by arg 1)


def unit_of(onto: ontology.Ontology, name) -> str | None:
    """The unit of a parameter's values, in short: date, TPP, operations, percent, factor, GB/s."""
    for p in onto.parameters:
        if p.name == name:
            return "TPP" if "TPP" in p.unit else p.unit
    return None


def atom_key(atom: list) -> str:
    """How a conclusion or refutation is keyed: pred(arg, ...), with the engine's values."""
    return f"{atom[0]}({', '.join(str(a) for a in atom[1:])})"


class Typing:
    """The type of every argument of every predicate and of every rule's variables."""

    def __init__(self, program: Program, onto: ontology.Ontology):
        self.onto = onto
        self.args: dict[tuple[str, int], str] = {}
        for d in program.declarations:
            for i, a in enumerate(d.atom.args):
                if isinstance(a, Var) and a.name in ARGUMENT_TYPES:
                    self.args[(d.atom.pred, i)] = ARGUMENT_TYPES[a.name]
        self.args[("param", 1)] = PARAMETER + "0"
        self.rules: dict[str, dict[str, str]] = {}
        for _ in range(len(program.rules) + 1):  # to a fixpoint: each round types one more level of derivation
            before = dict(self.args)
            for r in program.rules:
                self.rules[r.id] = self._variables(r)
            if self.args == before:
                break

    def _variables(self, rule: Rule) -> dict[str, str]:
        out: dict[str, str] = {}
        for lit in rule.body:
            if isinstance(lit, (Positive, Negative)):
                for i, a in enumerate(lit.atom.args):
                    t = self.args.get((lit.atom.pred, i))
                    if isinstance(a, Var) and t and a.name not in out:
                        out[a.name] = self._resolve(t, lit.atom.args)
            elif isinstance(lit, Assign) and lit.var.name not in out:
                t = expression_type(lit.expr, out)
                if t:
                    out[lit.var.name] = t
        for i, a in enumerate(rule.head.args):
            if isinstance(a, Var) and a.name in out and (rule.head.pred, i) not in self.args:
                t = out[a.name]
                if t.startswith(PARAMETER):  # typed by a variable of this rule: by the head's argument naming it
                    names = [j for j, h in enumerate(rule.head.args) if isinstance(h, Var) and h.name == t[10:]]
                    if not names:
                        continue
                    t = PARAMETER + str(names[0])
                self.args[(rule.head.pred, i)] = t
        return out

    def _resolve(self, t: str, args: tuple) -> str:
        """A parameter's value type in a rule: the unit of a constant name, or the variable naming it."""
        if not t.startswith(PARAMETER):
            return t
        name = args[int(t[len(PARAMETER) :])]
        if isinstance(name, Const):
            return unit_of(self.onto, name.value) or "number"
        return PARAMETER + str(name)

    def of_variable(self, rule: Rule | None, var: str, bindings: dict) -> str | None:
        t = self.rules.get(rule.id, {}).get(var) if rule else None
        if t and t.startswith(PARAMETER):
            return unit_of(self.onto, bindings.get(t[len(PARAMETER) :]))
        return t

    def of_argument(self, pred, i: int, atom: list) -> str | None:
        t = self.args.get((pred, i))
        if t and t.startswith(PARAMETER):
            j = int(t[len(PARAMETER) :]) + 1
            return unit_of(self.onto, atom[j]) if j < len(atom) and isinstance(atom[j], str) else None
        return t

    def of_expression(self, rule: Rule | None, expr: Expr, bindings: dict) -> str | None:
        names = self.rules.get(rule.id, {}) if rule else {}
        types = {v: t for v in names if (t := self.of_variable(rule, v, bindings))}
        return expression_type(expr, types)


def expression_type(expr: Expr, types: dict[str, str]) -> str | None:
    """The type of arithmetic: a sum has its terms' type, a product its measured factor's (units x TPP is TPP),
    a quotient by a quantity times 100 is a percent."""
    if isinstance(expr, Var):
        return types.get(expr.name)
    if isinstance(expr, Const):
        return None
    left, right = expression_type(expr.left, types), expression_type(expr.right, types)
    if expr.op in "+-":
        return left or right
    if expr.op == "*":  # units x TPP is TPP; a percent or factor times a measure is that measure
        measured = [t for t in (left, right) if t not in (None, "units", "factor", "percent")]
        return measured[0] if measured else left or right
    return "percent" if _times_100(expr.left) else None


def _times_100(expr: Expr) -> bool:
    return isinstance(expr, BinOp) and expr.op == "*" and Const(100) in (expr.left, expr.right)


# ---- values


def typed_value(value, t: str | None, onto: ontology.Ontology) -> model.Value:
    """An engine value as the typed value it is where it stands (its type `t`)."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and t != "country"):
        return value
    if isinstance(value, str):
        return model.Country(value, onto.countries[value]) if value in onto.countries else value
    if isinstance(value, float):  # the exact number shown: the shortest decimal text of the engine's value
        return model.Share(Fraction(repr(value)), t or "number")
    if not isinstance(value, int):
        raise BadValue(f"an engine value of no proof.v2 type: {type(value).__name__}")
    if t in ("from", "until") and value == (BEGINNING if t == "from" else OPEN_END):
        return model.OPEN
    if t in ("date", "from", "until") and _is_date(value):
        return dt.date(value // 10000, value // 100 % 100, value % 100)
    return model.Amount(value, t if t and t not in ("date", "from", "until", "country") else "number")


def _is_date(value: int) -> bool:
    try:
        dt.date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        return False
    return True


class BadValue(ValueError):
    """A typed value that cannot stand where it stands ('open' outside a validity's bound)."""


def engine_value(value: model.Value, t: str | None):
    """A typed value back as the engine's value (the inverse of typed_value)."""
    if isinstance(value, model.Open):
        if t not in ("from", "until"):
            raise BadValue("'open' is a validity's bound only")
        return BEGINNING if t == "from" else OPEN_END
    if isinstance(value, dt.date):
        return ontology.date_number(value)
    if isinstance(value, model.Amount):
        return value.value
    if isinstance(value, model.Share):
        return float(value.value)
    if isinstance(value, model.Country):
        return value.code
    return value


# ---- the tree

Convert = Callable[[Any, "str | None"], Any]


class _Walk:
    """Converts every value of a proof tree, each by its type (writing or reading: `convert`)."""

    def __init__(self, typing: Typing, program: Program, convert: Convert):
        self.typing, self.program, self.convert = typing, program, convert

    def rule(self, node: dict) -> Rule | None:
        name = node.get("rule")
        try:
            return self.program.rule(name) if isinstance(name, str) else None
        except KeyError:
            return None

    def atom(self, atom) -> Any:
        if not isinstance(atom, list) or not atom or not isinstance(atom[0], str):
            return atom
        return [atom[0]] + [self.convert(a, self.typing.of_argument(atom[0], i, atom)) for i, a in enumerate(atom[1:])]

    def bindings(self, rule: Rule | None, b) -> Any:
        if not isinstance(b, dict):
            return b
        return {k: self.convert(v, self.typing.of_variable(rule, k, _names(b))) for k, v in b.items()}

    def node(self, node, rule: Rule | None = None, index: int = -1, b: dict | None = None) -> Any:
        """One node; `rule`, `index` and `b`: the rule, body position and bindings of the premise it proves."""
        if not isinstance(node, dict):
            return node
        out = dict(node)
        lit = rule.body[index] if rule is not None and 0 <= index < len(rule.body) else None
        names = _names(b)
        if "atom" in out:
            out["atom"] = self.atom(out["atom"])
        if node.get("kind") == "compare":
            for side in ("left", "right"):
                expr = getattr(lit, side) if isinstance(lit, Compare) else None
                out[side] = self.convert(
                    node.get(side), self.typing.of_expression(rule, expr, names) if expr is not None else None
                )
        if node.get("kind") == "assign":
            var = lit.var.name if isinstance(lit, Assign) else None
            out["value"] = self.convert(node.get("value"), self.typing.of_variable(rule, var, names) if var else None)
        if node.get("kind") == "fact" and isinstance(node.get("source"), dict):
            out["source"] = self.source(node["source"])
        own = self.rule(node)
        if "bindings" in out:
            out["bindings"] = self.bindings(own, out["bindings"])
        if isinstance(node.get("values"), dict) and isinstance(node.get("failed_at"), int):
            failed = own.body[node["failed_at"]] if own and 0 <= node["failed_at"] < len(own.body) else None
            values = dict(node["values"])
            for side in ("left", "right"):
                if side in values:
                    expr = getattr(failed, side) if isinstance(failed, Compare) else None
                    values[side] = self.convert(
                        values[side],
                        self.typing.of_expression(own, expr, _names(node.get("bindings")))
                        if expr is not None
                        else None,
                    )
            out["values"] = values
        if isinstance(node.get("premises"), list):
            out["premises"] = [self.node(p, own, i, node.get("bindings")) for i, p in enumerate(node["premises"])]
        for k in ("because", "blocked_by"):
            if k in node:
                out[k] = self.node(node[k])
        return out

    def source(self, source: dict) -> dict:
        out = dict(source)
        if out.get("type") == "parameter":
            unit = unit_of(self.typing.onto, out.get("name"))
            if "value" in out:
                out["value"] = self.convert(out["value"], unit)
            for k, t in (("valid_from", "from"), ("valid_to", "until")):
                if k in out:
                    out[k] = self.convert(out[k], t)
        return out


def _names(b) -> dict:
    """The string values of bindings: what a type may depend on (a parameter's name), the same written or read."""
    return {k: v for k, v in b.items() if isinstance(v, str)} if isinstance(b, dict) else {}


def to_model(doc: dict, program: Program, onto: ontology.Ontology, typing: Typing | None = None) -> model.ProofDocument:
    """A proof tree (queries/proof.py) as typed nodes."""
    typing = typing or typing_for(program, onto)
    w = _Walk(typing, program, lambda v, t: typed_value(v, t, onto))
    q = dict(doc["question"])
    q["inputs"] = [w.atom(a) for a in q["inputs"]]
    typed = {"format": FORMAT, "ruleset_version": doc["ruleset_version"], "words": WORDS, "question": q}
    for section in SECTIONS:
        typed[section] = {atom_key(n["atom"]): w.node(n) for n in doc[section]}
    if "truncated" in doc:
        typed["truncated"] = doc["truncated"]
    return model.read(typed, typed=True)


def typed_atoms(atoms: list, program: Program, onto: ontology.Ontology) -> list[model.Atom]:
    """Atoms of a proof tree (the question's inputs) as typed atoms."""
    w = _Walk(typing_for(program, onto), program, lambda v, t: typed_value(v, t, onto))
    return [model.read_atom(w.atom(a), typed=True) for a in atoms]


def to_v2(doc: dict, program: Program, onto: ontology.Ontology, typing: Typing | None = None) -> dict:
    """A proof tree (queries/proof.py) as a proof.v2 document."""
    return model.write(to_model(doc, program, onto, typing))


def from_v2(doc: dict, program: Program, onto: ontology.Ontology, typing: Typing | None = None) -> dict:
    """A proof.v2 document back as the proof tree it was written from (ModelError: not proof.v2, with the path;
    BadValue: an 'open' that is no validity's bound; the checker compares every other field by writing the tree
    again)."""
    typing = typing or typing_for(program, onto)
    w = _Walk(typing, program, engine_value)
    typed = model.write(model.read(doc, ""), typed=True)
    q = dict(typed["question"])
    q["inputs"] = [w.atom(a) for a in q["inputs"]]
    out: dict[str, Any] = {"format": "proof.v1", "ruleset_version": typed["ruleset_version"], "question": q}
    for section in SECTIONS:
        out[section] = [w.node(n) for n in typed[section].values()]
    if "truncated" in typed:
        out["truncated"] = typed["truncated"]
    return out


_TYPINGS: dict[tuple, Typing] = {}


def typing_for(program: Program, onto: ontology.Ontology) -> Typing:
    key = (program.version, id(onto))  # a rule set's version names its rules (a reform's included)
    if key not in _TYPINGS:
        _TYPINGS[key] = Typing(program, onto)
        while len(_TYPINGS) > 8:
            _TYPINGS.pop(next(iter(_TYPINGS)))
    return _TYPINGS[key]


class ConvertError(ValueError):
    """A document that is not a proof.v1 document or a decision.v1 answer (the CLI prints one error line)."""


def convert_v1(doc, onto: ontology.Ontology | None = None, program: Program | None = None) -> dict:
    """A proof.v1 document, or a decision.v1 answer (`decide --json` of the previous version), as proof.v2 (or
    decision.v2, with `obstacles` read from its refutations). The words are taken to be this version's: a
    proof in older words converts, but its sentences fail the check."""
    from aidkb.kb.program import baseline_program

    from .decide import obstacles_of
    from .reform import Reform, ReformError, parse_operations

    decision = isinstance(doc, dict) and "proof" in doc and "format" not in doc
    proof = doc["proof"] if decision else doc
    if not isinstance(proof, dict) or proof.get("format") != "proof.v1":
        raise ConvertError("format: not a proof.v1 document (nor a decision whose proof is one)")
    onto = onto or ontology.load()
    try:
        ops = parse_operations(
            [{o["op"]: o["args"]} for o in proof["question"]["what_if"]], "proof", "question.what_if", onto
        )
        written = to_v2(proof, Reform(ops).program(program or baseline_program()), onto)
    except ReformError as e:
        raise ConvertError(str(e)) from None
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ConvertError(f"malformed proof.v1 document ({type(e).__name__}: {str(e)[:120]})") from None
    if not decision:
        return written
    required = doc.get("license_required") is True
    return {
        **doc,
        "obstacles": {n["atom"][2]: obstacles_of(n) for n in proof["refutations"]} if required else {},
        "proof": written,
    }
