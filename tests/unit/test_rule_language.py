"""The rule language: parse errors carry file:line:column, and each check rejects what it must."""

from __future__ import annotations

import pytest

from aidkb.kb.parser import RuleError, parse_text
from aidkb.kb.program import program_from_text
from aidkb.kb.syntax import Assign, Compare, Negative, Positive

HEAD = 'input p(C, X) "p {X}".\ninput q(C) "q".\n'


def rule(body: str, head: str = "r(C)", rid: str = "r1", says: str = "r holds") -> str:
    return f'@rule {rid}\n@cite "15 CFR 740.29"\n@says "{says}"\n{head} :- {body}.\n'


def rejected(text: str) -> RuleError:
    with pytest.raises(RuleError) as e:
        program_from_text(text, "t.dl")
    return e.value


def test_a_rule_parses_into_literals_with_metadata():
    program = program_from_text(HEAD + rule('p(C, X), Y = X * 2, Y <= 10 ? "{Y} too big", not q(C)'), "t.dl")
    r = program.rule("r1")
    assert r.cites == ("15 CFR 740.29",) and r.says == "r holds" and r.grade == "S"
    assert [type(lit) for lit in r.body] == [Positive, Assign, Compare, Negative]
    assert r.body[2].unless == "{Y} too big"
    assert r.body[1].pos.line == 6


def test_constants_are_strings_numbers_or_symbols():
    program = program_from_text(HEAD + rule('p(C, "3A090.a"), p(C, 1.0e26), p(C, 42), p(C, lpp)'), "t.dl")
    values = [lit.atom.args[1].value for lit in program.rule("r1").body]
    assert values == ["3A090.a", 10**26, 42, "lpp"]  # 1.0e26 is read as the exact integer it names


def test_fractional_constants_are_rejected():
    # regression: pyDatalog keeps floats in 32 bits (0.07 becomes 0.0700000003), so legal numbers are exact
    assert "fractional constant" in rejected(HEAD + rule("p(C, X), X > 0.07")).message


def test_comparing_a_quotient_is_rejected():
    assert "division" in rejected(HEAD + rule("p(C, X), Y = X / 3, Y > 2")).message
    assert "division" in rejected(HEAD + rule("p(C, X), X / 3 > 2")).message


def test_syntax_error_names_file_line_and_column():
    e = rejected(HEAD + '@rule r1\n@cite "x"\n@says "y"\nr(C) :- p(C, X) q(C).\n')
    assert (e.pos.file, e.pos.line) == ("t.dl", 6) and e.pos.column == 17
    assert str(e).startswith("t.dl:6:17: unexpected")


def test_unterminated_clause_is_reported_at_the_end():
    e = rejected(HEAD + '@rule r1\n@cite "x"\n@says "y"\nr(C) :- p(C, X)')
    assert e.pos.line == 6 and "end" in e.message


def test_bad_character_is_reported():
    e = rejected(HEAD + rule("p(C, X) & q(C)"))
    assert e.pos.line == 6 and "&" in e.message


@pytest.mark.parametrize("missing", ["@rule r1\n", '@cite "x"\n', '@says "y"\n'])
def test_a_clause_needs_id_citation_and_sentence(missing):
    text = '@rule r1\n@cite "x"\n@says "y"\nr(C) :- q(C).\n'.replace(missing, "")
    assert "has no @" in rejected(HEAD + text).message


def test_grade_must_be_r_s_or_u():
    assert "@grade" in rejected(HEAD + '@rule r1\n@cite "x"\n@says "y"\n@grade X\nr(C) :- q(C).\n').message


def test_duplicate_rule_id():
    assert "already used" in rejected(HEAD + rule("q(C)") + rule("q(C)")).message


def test_duplicate_declaration():
    assert "declared twice" in rejected(HEAD + 'input q(C) "again".\n').message


def test_arity_mismatch():
    e = rejected(HEAD + rule("p(C)"))
    assert "p is used with 1 arguments here but with 2" in e.message and e.pos.line == 6


def test_unknown_predicate():
    assert "unknown predicate missing/1" in rejected(HEAD + rule("missing(C)")).message


def test_input_predicate_cannot_be_defined_by_a_rule():
    assert "declared as input" in rejected(HEAD + rule("q(C)", head="p(C, C)")).message


def test_unsafe_negation():
    assert "unsafe negation: variable X" in rejected(HEAD + rule("q(C), not p(C, X)")).message


def test_unsafe_comparison():
    assert "unsafe comparison: variable X" in rejected(HEAD + rule("q(C), X > 3")).message


def test_comparison_before_binding_is_unsafe_even_if_bound_later():
    assert "unsafe comparison" in rejected(HEAD + rule("X > 3, p(C, X)")).message


def test_unsafe_assignment():
    assert "unsafe assignment: variable Y" in rejected(HEAD + rule("q(C), X = Y + 1")).message


def test_assignment_to_a_bound_variable():
    assert "already bound" in rejected(HEAD + rule("p(C, X), X = 1")).message


def test_unbound_head_variable():
    assert "head variable Z" in rejected(HEAD + rule("q(C)", head="r2(C, Z)")).message


def test_fact_with_a_variable():
    text = HEAD + '@rule f1\n@cite "x"\n@says "y"\nfact(X).\n'
    assert "unsafe fact" in rejected(text).message


def test_placeholder_of_an_unbound_variable_in_says():
    assert "{Z}" in rejected(HEAD + rule("q(C)", says="uses {Z}")).message


def test_placeholder_in_failure_text_must_be_bound_before_the_atom():
    assert "{X}" in rejected(HEAD + rule('p(C, X) ? "missing {X}"')).message


def test_negation_through_recursion_is_not_stratifiable():
    text = HEAD + rule("q(C), not s(C)", head="r(C)") + rule("r(C)", head="s(C)", rid="r2")
    assert "negation through recursion" in rejected(text).message


def test_right_recursion_is_rewritten_to_left_recursion():
    from aidkb.kb.engine import Engine

    text = (
        HEAD
        + 'input e(C, A, B) "e".\n'
        + rule("e(C, A, B)", head="t(C, A, B)")
        + rule("e(C, A, M), t(C, M, B)", head="t(C, A, B)", rid="r2")
    )
    program = program_from_text(text, "t.dl")
    assert program.rule("r2").body[0].atom.pred == "t"  # the recursive atom now comes first
    engine = Engine(program, [])
    with engine.facts([("e", "c", 0, 1), ("e", "c", 1, 2), ("e", "c", 2, 0)]):  # a cycle: terminates
        assert len(engine.ask("t", ("c", None, None))) == 9


def test_right_recursion_that_cannot_be_reordered_is_rejected():
    text = (
        HEAD
        + 'input e(C, A, B) "e".\n'
        + rule("e(C, A, B)", head="t(C, A, B)")
        + rule('e(C, A, M), t(C, M, B) ? "no path from {A}"', head="t(C, A, B)", rid="r2")
    )
    assert "right recursion" in rejected(text).message


def test_non_linear_recursion_is_rejected():
    text = (
        HEAD
        + 'input e(C, A, B) "e".\n'
        + rule("e(C, A, B)", head="t(C, A, B)")
        + rule("t(C, A, M), t(C, M, B)", head="t(C, A, B)", rid="r2")
    )
    assert "only linear left recursion" in rejected(text).message


def test_declaration_arguments_must_be_variables():
    assert "must name its arguments" in rejected('input p(C, "x") "p".\n').message


def test_anonymous_variables_are_distinct():
    program = program_from_text(HEAD + 'input e(C, A, B) "e".\n' + rule("e(C, _, _)"), "t.dl")
    args = program.rule("r1").body[0].atom.args
    assert args[1] != args[2]


def test_rule_text_is_data_never_code():
    # a string that would be dangerous if evaluated is just a constant
    program = program_from_text(HEAD + rule("p(C, \"__import__('os').system('false')\")"), "t.dl")
    assert program.rule("r1").body[0].atom.args[1].value == "__import__('os').system('false')"


def test_parse_text_returns_declarations_and_rules():
    statements = parse_text(HEAD + rule("q(C)"), "t.dl")
    assert len(statements) == 3


def test_a_reordered_rule_must_still_be_safe():
    # regression: the rewrite ran after the safety checks, so a reordered body was never re-checked
    text = (
        HEAD
        + 'input e(C, A, B) "e".\n'
        + rule("e(C, A, B)", head="t(C, A, B)")
        + rule('e(C, A, M), t(C, M, B) ? "no path from {M}"', head="t(C, A, B)", rid="r2")
    )
    e = rejected(text)
    assert "{M}" in e.message or "right recursion" in e.message


def test_a_declaration_may_name_what_is_missing_after_a_question_mark():
    program = program_from_text('input p(C, X) "p is {X}" ? "the p of the case".\n' + rule("p(C, X)"), "t.dl")
    declaration = program.declaration("p", 2)
    assert declaration is not None
    assert (declaration.template, declaration.absent) == ("p is {X}", "the p of the case")
    assert program.declaration("q", 1) is None or program.declaration("q", 1).absent is None


def test_a_declaration_text_naming_no_argument_of_it_is_rejected():
    e = rejected('input p(C, X) "p is {X}" ? "the p of {Y}".\n' + rule("p(C, X)"))
    assert "names Y, not among its arguments" in e.message and e.pos.line == 1
    assert "names Z" in rejected('input p(C, X) "p is {Z}".\n' + rule("p(C, X)")).message
