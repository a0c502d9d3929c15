"""The store of answers (kb/sql/store.py): an evaluation asked again, in any process, is read back exactly; a
change to anything that decides the answer (a case fact, a base fact, a rule) is computed, never read."""

from __future__ import annotations

import pytest

import aidkb.kb.sqlengine
from aidkb import ontology
from aidkb.kb.program import baseline_program, program_from_text
from aidkb.kb.sql.store import ResultStore
from aidkb.kb.sqlengine import ANSWER_PREDICATES, SqlEngine
from aidkb.queries.case import load_case

from ..conftest import OWN_CASES

RULE = '@rule r{n}\n@cite "15 CFR 1"\n@says "s"\n'


@pytest.fixture
def store(tmp_path, monkeypatch):
    kept = ResultStore(tmp_path / "store")
    monkeypatch.setattr(aidkb.kb.sqlengine, "_store", lambda: kept)
    return kept


def computed(monkeypatch) -> list[int]:
    """Counts the evaluations that reach a backend (not read from the store)."""
    runs: list[int] = []
    real = SqlEngine._backend

    def counting(self, *args, **kwargs):
        runs.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SqlEngine, "_backend", counting)
    return runs


def test_an_answer_asked_again_is_read_back_exactly(store, monkeypatch):
    cases = [load_case(p) for p in sorted(OWN_CASES.glob("*.yaml"))[:12]]
    cases = [c for c in cases if not c.what_if]
    facts = [f for c in cases for f in c.facts()]
    runs = computed(monkeypatch)
    first = SqlEngine(baseline_program(), ontology.load().facts()).evaluate(facts)
    again = SqlEngine(baseline_program(), ontology.load().facts()).evaluate(facts)  # as a fresh process would
    assert len(runs) == 1
    for pred in ANSWER_PREDICATES:
        assert again.rows(pred) == first.rows(pred)
    c = cases[0].id
    assert again.ask("status", (c, None)) == first.ask("status", (c, None))
    assert again.ask("authorized", (c, None)) == first.ask("authorized", (c, None))


def test_a_changed_fact_or_rule_is_computed_not_read(store, monkeypatch):
    text = 'input n(C, N) "". base limit(L) "".\n' + RULE.format(n=1) + "over(C) :- n(C, N), limit(L), N > L.\n"
    runs = computed(monkeypatch)
    assert SqlEngine(program_from_text(text), [("limit", 5)]).evaluate([("n", "a", 6)], ("over",)).rows("over") == {
        ("a",)
    }
    assert (
        SqlEngine(program_from_text(text), [("limit", 5)]).evaluate([("n", "a", 5)], ("over",)).rows("over") == set()
    )  # a case fact changed
    assert (
        SqlEngine(program_from_text(text), [("limit", 7)]).evaluate([("n", "a", 6)], ("over",)).rows("over") == set()
    )  # a base fact changed
    edited = text.replace("N > L", "N >= L")
    assert SqlEngine(program_from_text(edited), [("limit", 6)]).evaluate([("n", "a", 6)], ("over",)).rows("over") == {
        ("a",)
    }  # a rule changed
    assert SqlEngine(program_from_text(text), [("limit", 6)]).evaluate([("n", "a", 6)], ("over",)).rows("over") == set()
    assert len(runs) == 5
    SqlEngine(program_from_text(text), [("limit", 5)]).evaluate([("n", "a", 6)], ("over",))
    assert len(runs) == 5  # the first question again: read


def test_large_runs_are_not_kept_and_a_broken_entry_is_computed_again(store, monkeypatch):
    text = 'input n(C, N) "".\n' + RULE.format(n=1) + "pos(C) :- n(C, N), N > 0.\n"
    monkeypatch.setattr(aidkb.kb.sqlengine, "MAX_INPUT_ROWS", 1)
    SqlEngine(program_from_text(text), []).evaluate([("n", "a", 1), ("n", "b", 2)], ("pos",))
    assert not store.directory.exists() or not any(store.directory.iterdir())
    monkeypatch.setattr(aidkb.kb.sqlengine, "MAX_INPUT_ROWS", 10)
    runs = computed(monkeypatch)
    SqlEngine(program_from_text(text), []).evaluate([("n", "a", 1)], ("pos",))
    (entry,) = [p for p in store.directory.iterdir() if not p.name.startswith(".")]
    (entry / "meta.json").write_text("{not json")
    again = SqlEngine(program_from_text(text), []).evaluate([("n", "a", 1)], ("pos",))
    assert again.rows("pos") == {("a",)} and len(runs) == 2


def test_the_setting_names_the_directory_or_turns_the_store_off(tmp_path, monkeypatch):
    monkeypatch.setenv("AIDKB_SQL_STORE", "off")
    assert ResultStore.from_environment() is None
    monkeypatch.setenv("AIDKB_SQL_STORE", str(tmp_path / "s"))
    found = ResultStore.from_environment()
    assert found is not None and found.directory == tmp_path / "s"
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setattr(aidkb.kb.sqlengine, "_store", lambda: ResultStore(blocked / "sub"))  # cannot be written
    text = 'input n(C, N) "".\n' + RULE.format(n=1) + "pos(C) :- n(C, N), N > 0.\n"
    assert SqlEngine(program_from_text(text), []).evaluate([("n", "a", 1)], ("pos",)).rows("pos") == {("a",)}
