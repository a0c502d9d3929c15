"""Loading the law: every rule file under kb/rules, parsed and checked into one Program."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .checks import check
from .parser import RuleError, parse_files, parse_text
from .syntax import Program

RULES_DIR = Path(__file__).parent / "rules"


def rule_files(directory: Path = RULES_DIR) -> list[Path]:
    return sorted(directory.glob("*.dl"))


def ruleset_version(paths: list[Path]) -> str:
    """A short hash of the rule files' names and bytes: the rule-set version quoted in every answer."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def load_program(directory: Path = RULES_DIR) -> Program:
    paths = rule_files(directory)
    if not paths:
        raise RuleError(f"{directory}: no rule files (*.dl)")
    root = directory if directory == RULES_DIR else None  # embedded rules are named kb/rules/<file>
    return check(parse_files(paths, root), ruleset_version(paths))


@lru_cache(maxsize=1)
def baseline_program() -> Program:
    """The embedded rule set (parsed once per process; a Program is immutable)."""
    return load_program()


def program_from_text(text: str, name: str = "<text>") -> Program:
    return check(parse_text(text, name), hashlib.sha256(text.encode()).hexdigest()[:16])
