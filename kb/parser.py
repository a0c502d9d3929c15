"""Pass 1, parse: rule text to syntax trees (lark LALR grammar in grammar.lark)."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from .errors import AidkbError
from .syntax import Assign, Atom, BinOp, Compare, Const, Declaration, Negative, Position, Positive, Rule, Var


class RuleError(AidkbError):
    """A rule file that cannot be used, with the file:line:column where the problem is."""

    def __init__(self, message: str, pos: Position | None = None):
        self.message = message
        self.pos = pos
        super().__init__(f"{pos}: {message}" if pos else message)


@lru_cache(maxsize=1)
def _grammar() -> Lark:
    return Lark(
        (Path(__file__).parent / "grammar.lark").read_text(),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def _string(token: Token) -> str:
    return json.loads(str(token))


class _Build(Transformer):
    def __init__(self, file: str):
        super().__init__()
        self.file = file
        self.anonymous = 0

    def _pos(self, meta_or_token) -> Position:
        return Position(self.file, getattr(meta_or_token, "line", 0), getattr(meta_or_token, "column", 0))

    def variable(self, items):
        name = str(items[0])
        if name == "_":  # each anonymous variable is a fresh one
            self.anonymous += 1
            name = f"_{self.anonymous}"
        return Var(name)

    def symbol(self, items):
        return Const(str(items[0]))

    def string(self, items):
        return Const(_string(items[0]))

    def number(self, items):
        text = str(items[0])
        value = Decimal(text)
        return Const(int(value) if value == value.to_integral_value() else float(text))

    def binop(self, items):
        return BinOp(str(items[1]), items[0], items[2])

    @v_args(meta=True)
    def atom(self, meta, items):
        return Atom(str(items[0]), tuple(items[1:])), self._pos(meta)

    def positive(self, items):
        atom, pos = items[0]
        return ("positive", atom, pos)

    def negative(self, items):
        atom, pos = items[0]
        return ("negative", atom, pos)

    def assign(self, items):
        return ("assign", Var(str(items[0])), items[1], self._pos(items[0]))

    def compare(self, items):
        return ("compare", str(items[1]), items[0], items[2], self._pos(items[1]))

    @v_args(meta=True)
    def condition(self, meta, items):
        lit = items[0]
        unless = _string(items[1]) if len(items) > 1 else None
        kind, pos = lit[0], self._pos(meta)
        if kind == "positive":
            return Positive(lit[1], unless, pos)
        if kind == "negative":
            return Negative(lit[1], unless, pos)
        if kind == "assign":
            return Assign(lit[1], lit[2], unless, pos)
        return Compare(lit[1], lit[2], lit[3], unless, pos)

    def body(self, items):
        return tuple(items)

    def rule_id(self, items):
        return ("id", str(items[0]))

    def cite(self, items):
        return ("cite", _string(items[0]))

    def says(self, items):
        return ("says", _string(items[0]))

    def grade(self, items):
        return ("grade", str(items[0]))

    def note(self, items):
        return ("note", _string(items[0]))

    @v_args(meta=True)
    def declaration(self, meta, items):
        atom, _ = items[1]
        absent = _string(items[3]) if len(items) > 3 else None
        return Declaration(str(items[0]), atom, _string(items[2]), self._pos(meta), absent)

    @v_args(meta=True)
    def clause(self, meta, items):
        pos = self._pos(meta)
        notes: dict[str, str] = {}
        cites: list[str] = []
        rest = []
        for item in items:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                if item[0] == "cite":
                    cites.append(item[1])
                    continue
                if item[0] in notes:
                    raise RuleError(f"annotation @{item[0]} given twice", pos)
                notes[item[0]] = item[1]
            else:
                rest.append(item)
        (head, _), body = rest[0], (rest[1] if len(rest) > 1 else ())
        for required in ("id", "says"):
            if required not in notes:
                raise RuleError(f"clause {head} has no @{'rule' if required == 'id' else required}", pos)
        if not cites:
            raise RuleError(f"clause {head} has no @cite", pos)
        grade = notes.get("grade", "S")
        if grade not in ("R", "S", "U"):
            raise RuleError(f"@grade must be R, S or U, not {grade}", pos)
        return Rule(notes["id"], head, body, tuple(cites), notes["says"], grade, notes.get("note"), pos)

    def start(self, items):
        return list(items)


# The grammar's named terminals in words (kb/grammar.lark); literal terminals are shown as written.
TERMINAL_WORDS = {
    "NAME": "a name (lower case: a predicate or a constant)",
    "VARIABLE": "a variable (capitalised)",
    "STRING": "a quoted text",
    "NUMBER": "a number",
    "COMPARATOR": "a comparison (<, <=, ==, !=, >=, >)",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "DECL_KIND": "input or base",
    "$END": "the end of the text",
}


def expected_in_words(terminals) -> str:
    """What a parser expected next, in words ("a variable (capitalised), '(' or ')'"), not token names."""
    literals = {t.name: t.pattern.value for t in _grammar().terminals if t.pattern.type == "str"}
    words = sorted(
        {TERMINAL_WORDS.get(t) or (f"'{literals[t]}'" if t in literals else t.lower()) for t in terminals},
        key=lambda w: (w.startswith("'"), w),
    )
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def parse_text(text: str, file: str = "<text>") -> list[Declaration | Rule]:
    """Parse rule text; raise RuleError with file:line:column on any syntax error."""
    try:
        tree = _grammar().parse(text)
    except UnexpectedEOF:
        lines = text.splitlines() or [""]
        raise RuleError(
            "unexpected end of text (a clause must end with '.')", Position(file, len(lines), len(lines[-1]) + 1)
        ) from None
    except UnexpectedToken as e:
        found = "end of text" if e.token.type == "$END" else repr(str(e.token))
        raise RuleError(
            f"unexpected {found}; expected {expected_in_words(e.accepts or e.expected)}",
            Position(file, e.line, e.column),
        ) from None
    except UnexpectedCharacters as e:
        found = text[e.pos_in_stream] if e.pos_in_stream is not None else "?"
        raise RuleError(f"unexpected character {found!r}", Position(file, e.line, e.column)) from None
    except UnexpectedInput as e:  # pragma: no cover - other lark input errors
        raise RuleError(str(e).splitlines()[0], Position(file, e.line, e.column)) from None
    try:
        return _Build(file).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, RuleError):
            raise e.orig_exc from None
        raise


def parse_files(paths: list[Path], root: Path | None = None) -> list[Declaration | Rule]:
    """Parse several rule files in order; positions name each file relative to root."""
    statements: list[Declaration | Rule] = []
    for path in paths:
        name = f"kb/rules/{path.relative_to(root)}" if root else str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise RuleError(f"cannot read rule file: {e}", Position(name, 0, 0)) from None
        statements.extend(parse_text(text, name))
    return statements
