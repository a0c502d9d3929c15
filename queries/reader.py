"""One hardened reader for every input document: case files, reform files, uploads, pasted operations, proof
documents and HTTP bodies all come through here before any validation.

- bytes: regular files only (no FIFO, no device), at most `Limits.max_bytes`, UTF-8;
- YAML: anchors, aliases, explicit tags and merge keys refused; duplicate keys refused; nesting and node count
  bounded; scalars typed by YAML 1.2 JSON-schema rules only (`true`/`false`, `null`/`~`, decimal integers and
  decimal numbers with a point and an optional exponent): `NO`, `yes`, `0x3e8`, `01750`, `16:40` and `2025-06-01`
  stay strings, so a typed field refuses them instead of reading them as False, 1000 or a date. Numbers with a
  point become exact `Decimal`s (2.5e25 is 25 x 10^24 exactly), integers at most `max_digits` digits. A plain
  `2e26` is a `Numeral`: a string (so the ECCN `4E091` stays an ECCN) that a number field reads exactly;
- JSON: the same number rules, duplicate keys and NaN/Infinity refused, nesting bounded;
- every failure is one `InputError` naming the source (and line and column where known), never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

from aidkb.kb.errors import InputError, show


@dataclass(frozen=True)
class Limits:
    """Bounds on one input document (README, "Input limits")."""

    max_bytes: int = 1_000_000
    max_depth: int = 32
    max_nodes: int = 100_000
    max_string: int = 100_000
    max_digits: int = 40
    max_exponent: int = 60


LIMITS = Limits()

_INT = r"[-+]?(?:0|[1-9][0-9]*)"
_NUMBER = re.compile(rf"{_INT}(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?)?\Z")
_INTEGER = re.compile(rf"{_INT}\Z")
_NUMERAL = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+\Z")


class Numeral(str):
    """A plain scalar such as `2e26` or `4E091`: text that is also a number in exponent form. String fields take
    it as text (an ECCN), number fields as the exact number it writes (`exact_numeral`)."""


class _Refused(Exception):
    def __init__(self, mark, message: str):
        self.mark, self.message = mark, message


def exact_numeral(text: str, limits: Limits | None = None) -> Decimal:
    """The exact value of a numeral such as 2e26 (bounded like every number)."""
    try:
        return Decimal(_number(text.replace("e", ".0e").replace("E", ".0E"), limits or LIMITS))
    except _Refused as e:
        raise ValueError(e.message) from None


def whole_number(value: Any) -> int:
    """A whole number given as an int, an exact Decimal, a Numeral (2e26) or a whole float (the Python API), as
    the exact integer its decimal form names (1.0e26 is 10**26). ValueError says why not."""
    if isinstance(value, Numeral):
        value = exact_numeral(value)
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        raise ValueError("must be a number")
    number = value if isinstance(value, Decimal) else Decimal(value if isinstance(value, int) else repr(value))
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError("must be a whole number (legal numbers are exact)")
    return int(number)


def _number(text: str, limits: Limits, mark=None) -> int | Decimal:
    digits = sum(ch.isdigit() for ch in text.split("e")[0].split("E")[0])
    if digits > limits.max_digits:
        raise _Refused(mark, f"number {show(text)} has more than {limits.max_digits} digits")
    if _INTEGER.match(text):
        return int(text)
    value = Decimal(text)
    if abs(value.adjusted()) > limits.max_exponent:
        raise _Refused(mark, f"number {show(text)} is out of range")
    return value


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 JSON-schema scalars and the refusals listed in the module doc."""

    yaml_implicit_resolvers: dict = {}
    limits = LIMITS

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(event.start_mark, "YAML anchors and aliases (& and *) are not accepted")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _Refused(event.start_mark, f"explicit YAML tags ({show(tag)}) are not accepted")
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > self.limits.max_nodes:
            raise _Refused(event.start_mark, f"more than {self.limits.max_nodes:,} values")
        if isinstance(event, ScalarEvent) and len(event.value) > self.limits.max_string:
            raise _Refused(event.start_mark, f"a text longer than {self.limits.max_string:,} characters")
        depth = getattr(self, "_depth", 0)
        if isinstance(event, CollectionStartEvent):
            if depth >= self.limits.max_depth:
                raise _Refused(event.start_mark, f"nested more than {self.limits.max_depth} levels deep")
            self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        out: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark, "a mapping key must be a plain name")
            key = self.construct_object(key_node, deep=deep)
            if key in out:
                raise _Refused(key_node.start_mark, f"duplicate key {show(key)}")
            out[key] = self.construct_object(value_node, deep=deep)
        return out

    def construct_yaml_map(self, node):
        yield self.construct_mapping(node)

    def construct_number(self, node):
        return _number(node.value, self.limits, node.start_mark)

    def construct_numeral(self, node):
        return Numeral(node.value)


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_number)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"(?:~|null|Null|NULL|)\Z"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _NUMBER, list("-+0123456789"))
_Loader.add_constructor("tag:aidkb:numeral", _Loader.construct_numeral)
_Loader.add_implicit_resolver("tag:aidkb:numeral", _NUMERAL, list("-+0123456789"))


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def load_yaml(text: str, source: str, limits: Limits = LIMITS) -> Any:
    """A YAML document as plain Python values, or InputError."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise InputError(source, "", f"larger than {limits.max_bytes:,} bytes")
    loader = None
    try:
        loader = _Loader(text)
        loader.limits = limits
        return loader.get_single_data()
    except _Refused as e:
        raise InputError(source, "", f"not accepted: {_where(e.mark)}{e.message}") from None
    except yaml.MarkedYAMLError as e:
        raise InputError(source, "", f"malformed YAML: {_where(e.problem_mark)}{e.problem or e.context}") from None
    except yaml.reader.ReaderError as e:
        raise InputError(
            source,
            "",
            f"not accepted: character {e.character:#06x} at position {e.position} (control characters are not allowed)",
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError, ArithmeticError) as e:
        raise InputError(source, "", f"malformed YAML: {show(str(e))}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_json(text: str, source: str, limits: Limits = LIMITS) -> Any:
    """A JSON document with the same number rules (exact Decimals, bounded digits), or InputError."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise InputError(source, "", f"larger than {limits.max_bytes:,} bytes")

    def pairs(items):
        out: dict = {}
        for k, v in items:
            if k in out:
                raise _Refused(None, f"duplicate key {show(k)}")
            out[k] = v
        return out

    def constant(name):
        raise _Refused(None, f"{name} is not a number")

    try:
        data = json.loads(
            text,
            object_pairs_hook=pairs,
            parse_constant=constant,
            parse_int=lambda s: _number(s, limits),
            parse_float=lambda s: _number(s, limits),
        )
    except _Refused as e:
        raise InputError(source, "", f"not accepted: {e.message}") from None
    except json.JSONDecodeError as e:
        raise InputError(source, "", f"not JSON: line {e.lineno}, column {e.colno}: {e.msg}") from None
    except (RecursionError, ValueError, ArithmeticError):
        raise InputError(source, "", f"not accepted: nested more than {limits.max_depth} levels deep") from None
    check_depth(data, source, limits)
    return data


def check_depth(data: Any, source: str, limits: Limits = LIMITS) -> None:
    """Refuse documents nested deeper than the limit, or with too many values (iteratively: no recursion)."""
    stack = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise InputError(source, "", f"not accepted: more than {limits.max_nodes:,} values")
        if isinstance(value, (dict, list)):
            if depth >= limits.max_depth:
                raise InputError(source, "", f"not accepted: nested more than {limits.max_depth} levels deep")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(value, str) and len(value) > limits.max_string:
            raise InputError(source, "", f"not accepted: a text longer than {limits.max_string:,} characters")


def read_text(path: Path | str, source: str | None = None, limits: Limits = LIMITS) -> str:
    """The UTF-8 text of a regular file of at most `max_bytes` bytes (a FIFO or a device is refused unread)."""
    source = source or str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(source, "", "not a regular file")
        if info.st_size > limits.max_bytes:
            raise InputError(source, "", f"larger than {limits.max_bytes:,} bytes")
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except OSError as e:
        raise InputError(source, "", f"cannot read file: {e.strerror or e}") from None
    if len(data) > limits.max_bytes:
        raise InputError(source, "", f"larger than {limits.max_bytes:,} bytes")
    return decode(data, source)


def decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(source, "", f"not UTF-8 text (byte {e.start})") from None


def read_document(path: Path | str, source: str | None = None, limits: Limits = LIMITS) -> Any:
    """A YAML (or JSON, which is YAML) file read and loaded with every limit above."""
    source = source or str(path)
    return load_yaml(read_text(path, source, limits), source, limits)
