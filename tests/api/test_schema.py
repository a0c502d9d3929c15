"""decision.v2.json describes what `aidkb decide --json` prints: every bundled case's answer validates."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from aidkb.queries.case import load_case
from aidkb.queries.service import SCHEMAS

from .conftest import CASE_FILES


@pytest.fixture(scope="module")
def validator():
    schemas = {
        name: json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
        for name in ("decision.v1.json", "proof.v1.json", "decision.v2.json", "proof.v2.json")
    }
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return Draft202012Validator(
        schemas["decision.v2.json"], registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def test_every_case_folder_is_covered():
    assert len(CASE_FILES) >= 120


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_the_cli_answer_validates(path, cli_decisions, validator):
    decision = cli_decisions[load_case(path).id]
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(decision)]
    assert errors == []


def test_the_schema_refuses_what_is_not_a_decision(cli_decisions, validator):
    decision = next(iter(cli_decisions.values()))
    for broken in (
        {**decision, "license_required": "yes"},
        {**decision, "extra": 1},
        {k: v for k, v in decision.items() if k != "citations"},
        {**decision, "as_of": "1 June 2025"},
        {**decision, "proof": {"format": "proof.v2"}},
        {k: v for k, v in decision.items() if k != "obstacles"},
        {**decision, "obstacles": {"LPP": []}},
        {**decision, "license_required": True, "no_licence_because": "because"},
    ):
        assert not validator.is_valid(broken)
