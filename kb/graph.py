"""The predicate dependency graph of a rule set and its strongly connected components (Tarjan, iterative):
read by the stratification and recursion checks, the recursion rewrite and the bottom-up evaluator."""

from __future__ import annotations

from collections import defaultdict

from .syntax import Negative, Positive, Rule


def dependency_graph(rules: list[Rule]) -> dict[str, set[tuple[str, bool]]]:
    """head predicate -> {(body predicate, negated)}."""
    graph: dict[str, set[tuple[str, bool]]] = defaultdict(set)
    for rule in rules:
        graph[rule.head.pred]
        for lit in rule.body:
            if isinstance(lit, (Positive, Negative)):
                graph[rule.head.pred].add((lit.atom.pred, isinstance(lit, Negative)))
    return graph


def components(rules: list[Rule]) -> dict[str, frozenset[str]]:
    """Each predicate's strongly connected component of the dependency graph."""
    graph = {p: sorted({q for q, _ in deps}) for p, deps in dependency_graph(rules).items()}
    nodes = sorted(set(graph) | {q for deps in graph.values() for q in deps})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comp: dict[str, frozenset[str]] = {}
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(graph.get(root, ())))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, ()))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    for member in members:
                        comp[member] = frozenset(members)
    return comp
