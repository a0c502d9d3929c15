"""The typed proof model (queries/proof_model.py): every golden and shipped proof reads to dataclasses and writes
back byte-identical JSON; values are typed (dates, open bounds, amounts and exact shares with units, countries);
malformed documents are refused naming the place."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aidkb.queries import proof_model as m
from aidkb.queries.case import load_case
from aidkb.queries.decide import decide
from aidkb.queries.proof_v2 import convert_v1

from ..conftest import OWN_CASES, SHARED_CASES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _text(document: dict) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"  # as tests/test_golden.py writes a golden


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_every_golden_proof_reads_to_nodes_and_writes_back_byte_identical(path):
    text = path.read_text(encoding="utf-8")
    proof = m.read(json.loads(text))
    assert _text(m.write(proof)) == text


@pytest.mark.parametrize("path", sorted((GOLDEN / "v1").glob("*.json")), ids=lambda p: p.stem)
def test_every_converted_v1_golden_reads_to_nodes_and_writes_back_byte_identical(path):
    v2 = convert_v1(json.loads(path.read_text(encoding="utf-8")))
    assert _text(m.write(m.read(v2))) == _text(v2)


def test_every_shipped_case_proof_reads_to_nodes_and_writes_back_byte_identical():
    kinds: set[type] = set()
    for path in sorted(SHARED_CASES.glob("*.yaml")) + sorted(OWN_CASES.glob("*.yaml")):
        v2 = decide(load_case(path)).to_json()["proof"]
        proof = m.read(v2)
        assert _text(m.write(proof)) == _text(v2), path.name
        for tree in list(proof.conclusions.values()) + list(proof.refutations.values()):
            kinds |= {type(n) for _, n in m.walk(tree)}
    assert kinds == {m.RuleApplication, m.Fact, m.Comparison, m.Assignment, m.Negation, m.Ref, m.Refutation}


def test_values_are_typed():
    proof = m.read(json.loads((GOLDEN / "lpp-over-annual-limit.json").read_text(encoding="utf-8")))
    assert proof.question.as_of == dt.date(2025, 6, 1)
    values = [
        v
        for tree in list(proof.conclusions.values()) + list(proof.refutations.values())
        for _, n in m.walk(tree)
        for v in _node_values(n)
    ]
    assert any(isinstance(v, dt.date) for v in values)
    assert m.OPEN in values  # an unbounded validity, not 9999-12-31
    assert any(isinstance(v, m.Amount) and v.unit == "TPP" and type(v.value) is int for v in values)
    assert any(isinstance(v, m.Country) and v.name for v in values)
    sources = [n.source for tree in proof.conclusions.values() for _, n in m.walk(tree) if isinstance(n, m.Fact)]
    parameters = [s for s in sources if isinstance(s, m.ParameterSource)]
    assert parameters and all(isinstance(s.valid_from, (dt.date, m.Open)) for s in parameters)


def _node_values(n: m.Node) -> list:
    out: list = list(getattr(getattr(n, "atom", None), "args", ()))
    out += list((getattr(n, "bindings", None) or {}).values())
    if isinstance(n, m.Fact) and isinstance(n.source, m.ParameterSource):
        out += [n.source.value, n.source.valid_from, n.source.valid_to]
    if isinstance(n, m.Comparison):
        out += [n.left, n.right]
    return out


def test_a_share_is_an_exact_fraction_with_its_unit():
    share = m.read_value({"decimal": "8.252545696532497", "unit": "percent"}, "x")
    assert share == m.Share(Fraction(8252545696532497, 10**15), "percent")
    assert m.write_value(share) == {"decimal": "8.252545696532497", "unit": "percent"}


values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.dates(),
    st.just(m.OPEN),
    st.builds(m.Amount, st.integers(-(10**30), 10**30), st.sampled_from(["TPP", "units", "operations", "percent"])),
    st.builds(
        m.Share,
        st.builds(lambda n, k: Fraction(n, 10**k), st.integers(-(10**20), 10**20), st.integers(0, 20)),
        st.just("percent"),
    ),
    st.builds(m.Country, st.sampled_from(["MY", "AE", "CN"]), st.sampled_from(["Malaysia", "Macau"])),
)


@given(values)
def test_every_value_reads_back_as_written(value):
    assert m.read_value(json.loads(json.dumps(m.write_value(value))), "x") == value


@pytest.mark.parametrize(
    "change,path,words",
    [
        (lambda d: d["question"].update(inputs="x"), "proof.question.inputs", "list of atoms"),
        (lambda d: d["question"]["inputs"][0].append([["nested"]]), "proof.question.inputs[0][2]", "a value is"),
        (lambda d: d["question"].update(as_of="20250601"), "proof.question.as_of", "YYYY-MM-DD"),
        (lambda d: _first(d).update(kind="lemma"), ".kind", "a node is of kind"),
        (lambda d: _first(d).update(extra=1), ".extra", "unknown field"),
        (lambda d: _first(d)["atom"].append({"amount": 10**5000, "unit": "TPP"}), ".amount", "digits"),
        (lambda d: _first(d)["atom"].append({"decimal": "1/3", "unit": "percent"}), ".decimal", "not a decimal"),
        (lambda d: _first(d)["atom"].append({"date": "9999-99-99"}), ".date", "not a date"),
    ],
)
def test_a_malformed_document_is_refused_naming_the_place(change, path, words):
    document = json.loads((GOLDEN / "lpp-over-annual-limit.json").read_text(encoding="utf-8"))
    change(document)
    with pytest.raises(m.ModelError) as e:
        m.read(document)
    assert path in e.value.path and words in e.value.message, str(e.value)


def _first(document: dict) -> dict:
    return next(iter(document["conclusions"].values()))


def test_deep_nesting_is_refused_not_a_recursion_error():
    document = json.loads((GOLDEN / "lpp-over-annual-limit.json").read_text(encoding="utf-8"))
    node: dict = {"kind": "ref", "atom": ["x"]}
    for _ in range(m.MAX_DEPTH + 5):
        node = _wrap(node)
    document["conclusions"] = {"x": node}
    with pytest.raises(m.ModelError) as e:
        m.read(document)
    assert "nested deeper" in e.value.message


def _wrap(node: dict) -> dict:
    return {
        "kind": "rule",
        "atom": ["x"],
        "rule": "r",
        "citations": [],
        "bindings": {},
        "sentence": "",
        "premises": [node],
    }


def test_the_text_renderer_formats_values_by_type_not_by_variable_name():
    """Issue 14: a date bound to a variable whose name does not end in Date was shown as 20,250,515."""
    from aidkb import ontology
    from aidkb.kb.program import baseline_program
    from aidkb.queries.render import node_lines

    program, onto = baseline_program(), ontology.load()
    day = m.Comparison("On <= Until", "<=", dt.date(2025, 5, 15), dt.date(2026, 1, 1))
    assert node_lines(day, program, onto) == ["- check On <= Until: 2025-05-15 <= 2026-01-01 holds"]
    tpp = m.Comparison("Total <= Limit", "<=", m.Amount(26_900_000, "TPP"), m.Amount(50_000_000, "TPP"))
    assert node_lines(tpp, program, onto) == ["- check Total <= Limit: 26,900,000 <= 50,000,000 holds"]
    unbounded = m.Comparison("On < Until", "<", dt.date(2025, 5, 15), m.OPEN)
    assert node_lines(unbounded, program, onto) == ["- check On < Until: holds (Until: the value has no end date)"]
    since = m.Comparison("Since <= On", "<=", m.OPEN, dt.date(2025, 5, 15))
    assert node_lines(since, program, onto) == ["- check Since <= On: holds (Since: the value has no start date)"]
    where = m.Assignment("Where = Country", "Where", m.Country("MY", "Malaysia"))
    assert node_lines(where, program, onto) == ["- compute Where = Country: Where = Malaysia (MY)"]


def test_the_apps_tree_labels_read_typed_nodes():
    """The explorer's one-line labels (app/ui.py) read the typed nodes: a refutation without its subtrees, and no
    value of the whole tree in the engine's form (a date as 20,250,515 was the issue 14 defect)."""
    import re

    from aidkb.app import ui

    d = decide(load_case(SHARED_CASES / "lpp-over-annual-limit.yaml"))
    refutation = next(n for n in ui.proof_roots(d) if isinstance(n, m.Refutation) and n.rule)
    label = ui.node_label(refutation, details=True)
    assert label.startswith(f"NOT authorized(lpp-over-annual-limit, {refutation.atom.args[1]}): {refutation.reason}")
    assert f"rule {refutation.rule} [" in label and "also tried" not in label  # the node alone, not its subtrees
    labels = [ui.node_label(n, details) for top in ui.proof_roots(d) for _, n in m.walk(top) for details in (0, 1)]
    dates = [x for x in labels if "2025-01-13" in x]
    assert dates and not [x for x in labels if re.search(r"\b(19|20|99)[0-9],[0-9]{3},[0-9]{3}\b", x)]
    assert sorted(set(ui.rule_ids(d.document(), proved=False))) == sorted(
        {n.rule for top in ui.proof_roots(d) for _, n in m.walk(top) if isinstance(n, m.Refutation) and n.rule}
    )
