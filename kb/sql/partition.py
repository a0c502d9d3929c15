"""Case abstraction: evaluate each derived relation once per class of cases that look the same to it.

Many cases are decided in one run, and most derived relations depend on a case only through a few of its input
facts: which countries are in Tier 2 depends on the date asked and nothing else, yet it holds some 200 rows per
case. This pass finds, from the program alone, the *key* (the argument that names the case) and then evaluates a
derived predicate only for one representative case of each class of cases that have the same input facts for
the input predicates it depends on; every other case reaches those rows through a map (case -> representative).

1. The key (`partition`): the argument positions that variables connect to the first argument of the `input`
   predicates form one class; the program is *parametric* in it when every rule uses one key variable K, only at
   key positions, never in a comparison or arithmetic, never as a constant, base predicates have no key, and a
   rule with an unkeyed head reads no keyed atom. Then the cases never interact: the facts derived for the
   cases together are the union of those derived for each case alone.
2. The classes: for a keyed derived predicate p, `depends[p]` is the set J of input predicates it depends on
   (through any path, negation included). Two cases with the same facts for every predicate of J (the key
   aside) get the same rows of p, the key aside. At run time the engine groups the cases by those facts and
   keeps the abstraction of J only if it groups them well (a few classes for many cases).
3. The rewrite (`abstract`): a rule for p (J abstracted) starts with `reps_J(K)` (K is a representative); a
   body atom of a keyed derived q whose J' differs and is abstracted is read through `map_J'(K, R), q(R, ...)`.
   A predicate whose J is not abstracted is computed for every case, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..graph import dependency_graph
from ..syntax import (
    Assign,
    Atom,
    Compare,
    Negative,
    Positive,
    Program,
    Rule,
    Var,
    expr_vars,
)


@dataclass(frozen=True)
class Partition:
    """Where each keyed predicate holds its key, and which keyed inputs each derived predicate depends on."""

    key: dict[str, int]
    inputs: frozenset[str]
    depends: dict[str, frozenset[str]]


def partition(program: Program) -> Partition | None:
    """The program's case key, or None if the program is not parametric in one (it is then evaluated whole)."""
    inputs = [d for d in program.declarations if d.kind == "input"]
    if not inputs:
        return None
    parent: dict[tuple, tuple] = {}

    def find(slot: tuple) -> tuple:
        parent.setdefault(slot, slot)
        while parent[slot] != slot:
            parent[slot] = parent[parent[slot]]
            slot = parent[slot]
        return slot

    for rule in program.rules:
        seen: dict[str, tuple] = {}
        for atom in _atoms(rule):
            for i, t in enumerate(atom.args):
                if isinstance(t, Var):
                    slot = (atom.pred, i)
                    if t.name in seen:
                        parent[find(slot)] = find(seen[t.name])
                    else:
                        seen[t.name] = slot
    if any(d.atom.arity == 0 for d in inputs):
        return None
    key_class = find((inputs[0].atom.pred, 0))
    preds = {d.atom.pred: d.atom.arity for d in program.declarations}
    for r in program.rules:
        preds.update({a.pred: a.arity for a in _atoms(r)})
    key: dict[str, int] = {}
    for pred, arity in preds.items():
        positions = [i for i in range(arity) if find((pred, i)) == key_class]
        if len(positions) > 1:
            return None
        if positions:
            key[pred] = positions[0]
    declared = {d.atom.pred: d.kind for d in program.declarations}
    if any(kind == "base" and pred in key for pred, kind in declared.items()):
        return None
    used = {a.pred for r in program.rules for a in _atoms(r)}
    for d in inputs:
        if d.atom.pred not in key:
            if d.atom.pred in used:
                return None
            key[d.atom.pred] = 0  # read by no rule: any position will do
    if not all(_parametric(rule, key) for rule in program.rules):
        return None
    keyed_inputs = frozenset(d.atom.pred for d in inputs)
    return Partition(key, keyed_inputs, _depends(program, key, keyed_inputs))


def _atoms(rule: Rule):
    yield rule.head
    for lit in rule.body:
        if isinstance(lit, (Positive, Negative)):
            yield lit.atom


def _parametric(rule: Rule, key: dict[str, int]) -> bool:
    """One key variable, only at key positions, never compared, computed or given as a constant; a rule with an
    unkeyed head reads no keyed atom."""
    keys = set()
    for atom in _atoms(rule):
        if atom.pred in key:
            t = atom.args[key[atom.pred]]
            if not isinstance(t, Var):
                return False
            keys.add(t.name)
    if len(keys) > 1 or (keys and rule.head.pred not in key) or (rule.head.pred in key and not keys):
        return False
    if not keys:
        return True
    (k,) = keys
    for atom in _atoms(rule):
        if any(isinstance(t, Var) and t.name == k for i, t in enumerate(atom.args) if key.get(atom.pred) != i):
            return False
    for lit in rule.body:
        if isinstance(lit, Assign) and (lit.var.name == k or k in expr_vars(lit.expr)):
            return False
        if isinstance(lit, Compare) and k in lit.vars():
            return False
    return True


def _depends(program: Program, key: dict[str, int], inputs: frozenset[str]) -> dict[str, frozenset[str]]:
    graph = dependency_graph(list(program.rules))
    memo: dict[str, frozenset[str]] = {}
    for start in graph:
        if start not in key or start in memo:
            continue
        seen, todo, found = {start}, [start], set()
        while todo:
            p = todo.pop()
            for q, _ in graph.get(p, ()):
                if q in inputs:
                    found.add(q)
                elif q not in seen:
                    seen.add(q)
                    todo.append(q)
        memo[start] = frozenset(found)
    return {p: j for p, j in memo.items()}


MAP = "map@"  # map@(K, R0, R1, ...): each case and its representative for every abstracted input set


def reps_pred(n: int) -> str:
    return f"reps@{n}"


def abstract(program: Program, part: Partition, classes: dict[frozenset[str], int]) -> Program:
    """The program with every keyed derived predicate whose input set J is in `classes` (J -> column n of the
    map) evaluated for the representatives of its classes only, and read through the map elsewhere (module
    docstring, 3). A rule reads the map once, binding the representatives it needs."""
    width = len(classes)
    rules = []
    for rule in program.rules:
        head = rule.head.pred
        if head not in part.key:
            rules.append(rule)
            continue
        k = rule.head.args[part.key[head]]
        assert isinstance(k, Var)
        mine = classes.get(part.depends.get(head, frozenset()))
        body: list = []
        reps: dict[int, Var] = {}
        for lit in rule.body:
            if isinstance(lit, (Positive, Negative)) and lit.atom.pred in part.depends:
                theirs = classes.get(part.depends[lit.atom.pred])
                if theirs is not None and theirs != mine:
                    rep = reps.setdefault(theirs, Var(f"_rep{theirs}"))
                    args = list(lit.atom.args)
                    args[part.key[lit.atom.pred]] = rep
                    lit = replace(lit, atom=Atom(lit.atom.pred, tuple(args)))
            body.append(lit)
        if reps:
            columns = tuple(reps.get(n, Var(f"_unused{n}")) for n in range(width))
            body.insert(0, Positive(Atom(MAP, (k, *columns))))
        if mine is not None:
            body.insert(0, Positive(Atom(reps_pred(mine), (k,))))
        rules.append(replace(rule, body=tuple(body)))
    return Program(program.declarations, tuple(rules), program.version)
