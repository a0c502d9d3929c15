"""The hardened reader and the strict case and reform validators (issue 15): one regression test per defect."""

from __future__ import annotations

import copy
import os
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from aidkb.kb.errors import InputError, escape, show
from aidkb.queries.case import CaseError, load_case, parse_case
from aidkb.queries.reader import Limits, load_json, load_yaml, read_text
from aidkb.queries.reform import ReformError, load_reform, parse_operations

CASES = Path(__file__).parents[1] / "cases"
BASE = yaml.safe_load((CASES / "lpp-exactly-at-annual-limit.yaml").read_text())


def _case(**changes) -> dict:
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = data
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return data


def _error(data, onto=None) -> str:
    with pytest.raises(CaseError) as e:
        parse_case(data, "c.yaml", onto)
    return str(e.value)


# ---- the reader


@pytest.mark.parametrize(
    "text, words",
    [
        ("a: &x [1, 2]\nb: *x", "anchors and aliases"),
        ("a: 1\na: 2", "duplicate key 'a'"),
        ("a: !!int 5", "explicit YAML tags"),
        ("a: !!timestamp 2025-01-01", "explicit YAML tags"),
        ("[" * 600 + "]" * 600, "nested more than 32 levels"),
        ("a: " + "9" * 5000, "more than 40 digits"),
        ("a: 1.0e999", "out of range"),
        ("a: 'x\x1b[31m'", "control characters"),
        ("a: [1, 2", "malformed YAML"),
    ],
)
def test_yaml_refusals_are_one_clean_error(text, words):
    with pytest.raises(InputError) as e:
        load_yaml(text, "f.yaml")
    assert str(e.value).startswith("f.yaml: ") and words in str(e.value)


def test_yaml_alias_bomb_is_refused_before_it_expands():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    with pytest.raises(InputError, match="anchors and aliases"):
        load_yaml(bomb, "bomb.yaml")


def test_yaml_12_scalars_do_not_turn_into_other_types():
    data = load_yaml("a: NO\nb: yes\nc: 0x3e8\nd: 01750\ne: 16:40\nf: 2025-06-01\ng: 4E091\nh: 2.5e25\ni: 12", "f.yaml")
    assert data["a"] == "NO" and data["b"] == "yes"  # Norway stays Norway (YAML 1.1 made it False)
    assert data["c"] == "0x3e8" and data["d"] == "01750" and data["e"] == "16:40"  # not 1000, 1000, 1000
    assert data["f"] == "2025-06-01" and data["g"] == "4E091"  # a date string, an ECCN (not 4 x 10^91)
    assert data["h"] == Decimal("2.5e25") and data["i"] == 12  # exact


def test_json_refusals():
    for text, words in (
        ('{"a": 1, "a": 2}', "duplicate key"),
        ('{"a": NaN}', "NaN is not a number"),
        ("[" * 5000 + "]" * 5000, "nested more than"),
        ('{"a": ' + "1" * 50 + "}", "digits"),
    ):
        with pytest.raises(InputError, match=words):
            load_json(text, "f.json")
    assert load_json('{"x": 2e26}', "f.json") == {"x": Decimal("2e26")}


def test_fifo_and_devices_are_refused_unread(tmp_path):
    fifo = tmp_path / "case.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_text(fifo)  # would block forever if opened
    with pytest.raises(InputError, match="not a regular file"):
        read_text("/dev/zero")


def test_file_size_limit(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 2000)
    with pytest.raises(InputError, match="larger than 1,000 bytes"):
        read_text(big, limits=Limits(max_bytes=1000))


def test_messages_escape_control_characters_and_cut_long_values():
    assert escape("a\x1b]0;owned\x07b") == "a\\x1b]0;owned\\x07b"
    assert len(show("x" * 10_000)) <= 80
    huge = [["x" * 100] * 100] * 100
    assert len(show(huge)) <= 80


# ---- strict case fields


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"transaction__from_country": False}, "transaction.from_country", "non-empty string"),
        (
            {"transaction__consignee_tpp_already_this_year": False},
            "consignee_tpp_already_this_year",
            "must be a number",
        ),
        ({"transaction__consignee_tpp_already_this_year": ""}, "consignee_tpp_already_this_year", "must be a number"),
        ({"transaction__consignee_tpp_already_this_year": []}, "consignee_tpp_already_this_year", "must be a number"),
        ({"transaction__quantity": "1000"}, "transaction.quantity", "must be a number"),
        ({"transaction__quantity": "01750"}, "transaction.quantity", "must be a number"),
        ({"title": ["a list"]}, "title", "non-empty string"),
        ({"title": "bad \x1b[2J title"}, "title", "control characters"),
        ({"id": "\x1b]0;x\x07"}, "id", "control characters"),
        ({"id": "has spaces"}, "id", "is not an id"),
        ({"confidence": "certain"}, "confidence", "is not one of"),
        ({"as_of": "2025-6-1"}, "as_of", "YYYY-MM-DD"),
        ({"as_of": "20250601"}, "as_of", "YYYY-MM-DD"),
        ({"as_of": "2025-02-30"}, "as_of", "not a date of the calendar"),
        ({"transaction__end_user__name": 42}, "transaction.end_user.name", "non-empty string"),
    ],
)
def test_wrong_types_are_errors_never_defaults(changes, field, words):
    message = _error(_case(**changes))
    assert field in message and words in message, message


def test_exponent_numerals_are_exact_numbers_in_number_fields():
    data = load_yaml("training_ops: 2e26", "f.yaml")
    case = parse_case(
        _case(
            transaction__item="4E091",
            transaction__quantity=None,
            transaction__tpp_per_unit=None,
            transaction__model={"training_ops": data["training_ops"], "weights_published": False},
        ),
        "c.yaml",
    )
    assert case.training_ops == 2 * 10**26


def test_uveu_holdings_that_cannot_add_up_are_refused():
    holdings = {"global_tpp": 1000, "tier1_tpp": 1000, "us_tpp": 900, "destination_tpp": 200}
    message = _error(_case(transaction__end_user__veu="UVEU", transaction__end_user__veu_holdings=holdings))
    assert "destination_tpp" in message and "more than global_tpp" in message


def test_parent_chain_length_is_bounded():
    chain = [{"name": f"Owner {i}", "hq_country": "MY"} for i in range(1000)]
    message = _error(_case(transaction__end_user__parent_chain=chain))
    assert "at most 50" in message


def test_expected_block_is_validated():
    assert "unknown field" in _error(_case(expected={"licence_required": True}))
    assert "true or false" in _error(_case(expected={"license_required": "yes"}))
    assert "is not one of" in _error(_case(expected={"authorized_by": ["LLP"]}))
    assert "unknown field" in _error(_case(expected={"not_available": {"XYZ": "why"}}))


def test_model_note_1_fields_go_together():
    model = {"training_ops": 3 * 10**26, "derived_from_published_model": True}
    base = dict(transaction__item="4E091", transaction__quantity=None, transaction__tpp_per_unit=None)
    assert "is required when derived" in _error(_case(transaction__model=model, **base))
    model = {"training_ops": 10**26, "derived_from_published_model": True, "additional_training_ops": 2 * 10**26}
    assert "more than training_ops" in _error(_case(transaction__model=model, **base))
    model = {"training_ops": 10**26, "additional_training_ops": 10**25}
    assert "only for a model derived" in _error(_case(transaction__model=model, **base))


def test_case_file_with_duplicate_key_is_refused(tmp_path):
    text = (CASES / "lpp-exactly-at-annual-limit.yaml").read_text() + "\nmode: as_enforced\n"
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(CaseError, match="duplicate key 'mode'"):
        load_case(path)


# ---- strict reform operations


def _ops(value):
    from aidkb import ontology

    return parse_operations(value, "r.yaml", "operations", ontology.load())


@pytest.mark.parametrize(
    "ops, words",
    [
        ([{"disable_rule": {"id": "lpp_conditions"}}, {"disable_rule": {"id": "lpp_conditions"}}], "conflicting"),
        (
            [{"disable_rule": {"id": "lpp_conditions"}}, {"replace_rule": {"id": "lpp_conditions", "text": "x"}}],
            "",
        ),  # the replacement text is checked first; either error is a clean refusal
        ([{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": 10**100}}], "at most"),
        ([{"set_parameter": {"name": "lpp_annual_tpp_limit", "value": True}}], "must be a number"),
        ([{"move_country": {"country": "MY", "to_tier": True}}], "must be 1, 2 or 3"),
        ([{"move_country": {"country": "MY", "to_tier": 1, "from": "2025-13-01"}}], "not a date of the calendar"),
        ([{"add_to_group": {"country": "MY", "group": ["D5"]}}], "unknown group"),
    ],
)
def test_bad_operations_are_refused(ops, words):
    with pytest.raises(ReformError) as e:
        _ops(ops)
    assert words in str(e.value)


def test_operations_keep_their_input_form_and_reparse():
    ops = _ops(
        [
            {"move_country": {"country": "MY", "to_tier": 1, "from": "2025-05-20"}},
            {"set_parameter": {"name": "compliance_date", "value": "2025-06-01", "from": "2025-05-20"}},
        ]
    )
    again = _ops([o.to_input() for o in ops])
    assert again == ops
    assert ops[0].to_input() == {"move_country": {"country": "MY", "to_tier": 1, "from": "2025-05-20"}}


def test_reform_file_through_the_reader(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("title: t\noperations:\n  - &op {move_country: {country: MY, to_tier: 1}}\n  - *op\n")
    with pytest.raises(ReformError, match="anchors and aliases"):
        load_reform(path)


@pytest.mark.slow
def test_disabling_any_rule_never_crashes_a_decision():
    """Regression: disable_rule crashed for 25 of the 109 rules (the predicate it defined was forgotten)."""
    import dataclasses
    import glob

    from aidkb import ontology
    from aidkb.kb.program import baseline_program
    from aidkb.queries.decide import decide

    onto = ontology.load()
    paths = sorted(glob.glob(str(CASES / "*.yaml")))[::6]
    cases = [load_case(p) for p in paths]
    for rule in baseline_program().rules:
        ops = parse_operations([{"disable_rule": {"id": rule.id}}], "r", "what_if", onto)
        for case in cases:
            decision = decide(dataclasses.replace(case, what_if=ops))
            assert decision.what_if == [f"disable rule {rule.id}"]


# ---- rules in reforms that cannot be evaluated, never stop, or may hang pyDatalog


def _rule(i: int, head: str, body: str) -> str:
    return f'@rule r{i}\n@cite "15 CFR 740.29"\n@says "x"\n{head} :- {body}.'


def _decide_with(*texts):
    import dataclasses

    from aidkb.queries.decide import decide

    case = load_case(CASES / "lpp-exactly-at-annual-limit.yaml")
    return decide(dataclasses.replace(case, what_if=_ops([{"add_rule": {"text": t}} for t in texts])))


def test_an_added_rule_dividing_by_zero_is_an_error_not_a_crash():
    with pytest.raises(ReformError, match=r"what_if: rule r1 cannot be evaluated: F = \(Q / 0\) fails"):
        _decide_with(_rule(1, 'obligation(C, "x")', "quantity(C, Q), F = Q / 0"))


def test_arithmetic_on_a_string_is_an_error_not_a_crash():
    with pytest.raises(ReformError, match="cannot be evaluated.*TypeError"):
        _decide_with(_rule(1, 'obligation(C, "y")', "mode(C, M), F = M + 1, F > 1"))


def test_a_rule_that_counts_without_bound_is_stopped_by_the_budget():
    """Regression: an infinite-counter what-if grew memory without bound."""
    with pytest.raises(ReformError, match="derive more than 200,000 facts"):
        _decide_with(
            _rule(1, "counter(C, X)", "case(C), X = 0"),
            _rule(2, "counter(C, X)", "counter(C, Y), X = Y + 1"),
            _rule(3, 'obligation(C, "c")', "counter(C, 5)"),
        )


def test_recursion_through_several_predicates_is_refused_in_a_reform():
    """Regression: a 3-way mutual recursion passed the checks and never returned in pyDatalog."""
    with pytest.raises(ReformError, match=r"recurse through several predicates \(pa, pb, pc\)"):
        _ops(
            [
                {"add_rule": {"text": t}}
                for t in (
                    _rule(1, "pa(C, X)", "kind(C, X)"),
                    _rule(2, "pa(C, X)", "pc(C, X)"),
                    _rule(3, "pb(C, X)", "pa(C, X)"),
                    _rule(4, "pc(C, X)", "pb(C, X)"),
                    _rule(5, "obligation(C, X)", "pc(C, X)"),
                )
            ]
        )
