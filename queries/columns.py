"""Column-wise validation of a portfolio: every field checked once per distinct value, not once per row.

A portfolio column holds few distinct values (countries, ECCNs, dates, figures), so each column is
dictionary-encoded (Arrow for CSV and Parquet) and each distinct value is typed and checked by the case
validator's own readers (aidkb.queries.case._Reader, the same calls with the same bounds as parse_case). The checks
that join fields (a model's training figures, quantity x TPP, VEU holdings against the destination, a parent
chain against the ultimate parent) run once per distinct combination of the fields they join; the only per-row
checks are vectorized (ids, titles and names: Arrow regular expressions) or over a few rows (an end user named
in its own parent chain).

A row is *accepted* when every check passes; its `input` facts are then built column by column. Every other
row is *declined* and goes through the per-row validator (aidkb.queries.screen.validate's parse_case), which gives its
case or its error in its own words: the fast path never words an error, so both paths report the same. Rows
with a `what_if` or `expected` value, or a value in a mapping's own column, are declined; a file with columns this
module does not know (the ledger's, unknown fields) is declined as a whole. tests/unit/test_screen_columns.py
ties the two paths together on generated portfolios.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aidkb import ontology
from aidkb.kb.sqlengine import Coded, combine, firsts

from . import case as C
from .case import CaseError, InputError, Party

MISSING = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # the column is not in the row (JSON Lines)
BAD = object()  # a distinct value that fails its check

T, EU, M = "transaction", "transaction.end_user", "transaction.model"
H, N = f"{EU}.veu_holdings", f"{EU}.nveu_authorization"
HOLDINGS = tuple(f"{H}.{k}" for k in ("global_tpp", "tier1_tpp", "us_tpp", "destination_tpp"))
NVEU = (f"{N}.destination", f"{N}.cumulative_tpp")
# Columns that are a mapping's own path: a value there is merged with its fields by unflatten; declined.
MAPPINGS = (T, EU, M, H, N)


def _required(v: Any) -> Any:
    if v is MISSING:
        raise CaseError("", "", "missing")
    return v


def _optional(v: Any) -> Any:
    return None if v is MISSING else v


def _checks(onto: ontology.Ontology) -> dict[str, Callable[[Any], Any]]:
    """Each known single-field column and its check, with parse_case's reader calls and bounds."""
    r = C._Reader("", onto)
    tx = "transaction"
    return {
        "id": lambda v: _case_id(r, v),
        "title": lambda v: r.string(_optional(v), "title", nullable=True) or "",
        "confidence": lambda v: r.string(_optional(v), "confidence", C.CONFIDENCES, nullable=True),
        "as_of": lambda v: ontology.date_number(r.date(_required(v), "as_of")),
        "mode": lambda v: r.string(_required(v), "mode", C.MODES),
        f"{tx}.kind": lambda v: r.string(_required(v), "transaction.kind", C.KINDS),
        f"{tx}.item": lambda v: C._item(r, r.string(_required(v), "transaction.item")),
        f"{tx}.quantity": lambda v: r.integer(_optional(v), "q", C.MAX_QUANTITY, nullable=True, minimum=1),
        f"{tx}.tpp_per_unit": lambda v: r.integer(_optional(v), "t", C.MAX_TPP_PER_UNIT, nullable=True, minimum=1),
        f"{tx}.memory_bandwidth_gb_s": lambda v: r.integer(_optional(v), "b", C.MAX_BANDWIDTH_GB_S, nullable=True),
        f"{M}.training_ops": lambda v: r.operations(_optional(v), "o"),
        f"{M}.weights_published": lambda v: r.boolean(_optional(v), "w"),
        f"{M}.open_weight_frontier_ops": lambda v: r.operations(_optional(v), "o"),
        f"{M}.derived_from_published_model": lambda v: r.boolean(_optional(v), "d"),
        f"{M}.additional_training_ops": lambda v: r.operations(_optional(v), "o"),
        f"{tx}.from_country": lambda v: "US" if _optional(v) is None else r.country(v, "c"),
        f"{tx}.destination_country": lambda v: r.country(_required(v), "c"),
        f"{EU}.name": lambda v: r.string(_optional(v), "n", nullable=True) or "the end user",
        f"{EU}.hq_country": lambda v: r.country(_required(v), "c", nullable=True),
        f"{EU}.ultimate_parent_hq_country": lambda v: r.country(_required(v), "c", nullable=True),
        f"{EU}.veu": lambda v: r.string(_optional(v), "v", C.VEU_TYPES, nullable=True),
        f"{EU}.end_use": lambda v: r.string(_required(v), "e", C.END_USES),
        f"{tx}.consignee_tpp_already_this_year": lambda v: r.integer(
            0 if _optional(v) is None else v, "y", C.MAX_TPP_TOTAL
        ),
        f"{tx}.country_tpp_already_allocated": lambda v: r.integer(
            0 if _optional(v) is None else v, "a", C.MAX_TPP_TOTAL
        ),
        f"{tx}.gov_to_gov_arrangement": lambda v: r.boolean(_optional(v), "g"),
        f"{tx}.facts": lambda v: C._flags(r, _optional(v), "f"),
        f"{EU}.parent_chain": lambda v: _optional(v),  # checked with the ultimate parent (_chains)
        **{name: _optional for name in HOLDINGS + NVEU},  # checked as groups (_holdings, _nveu)
    }


def _case_id(r: C._Reader, v: Any) -> str:
    case_id = r.string(_required(v), "id")
    if not C.CASE_ID.match(case_id):
        r.fail("id", "not an id")
    return case_id


def known(name: str, onto: ontology.Ontology) -> bool:
    """A column the fast path decides, or declines row by row (mappings' own paths, `what_if`, `expected.`)."""
    return name in _checks(onto) or name in MAPPINGS or name in ("what_if", "expected") or name.startswith("expected.")


# ---- columns as codes into their distinct values


@dataclass
class Column:
    """A column as codes into its distinct values. A text column with a value per row (ids, titles, names)
    keeps its cells untyped, with the Arrow text beside them for the vectorized checks (`typed` types one)."""

    codes: np.ndarray  # int64 per row, an index into values
    values: list  # distinct typed values (MISSING where the row has no such field), or the untyped cells
    text: pa.Array | None = None
    typed: Callable[[Any], Any] | None = None

    def value(self, i: int) -> Any:
        v = self.values[self.codes[i]]
        return v if self.typed is None else self.typed(v)


# Cells that are text in CSV and pass any text field's check: a letter, then printable ASCII (no control
# character; not a number, a boolean, null or JSON, which begin otherwise), within MAX_NAME; for ids, id letters.
SURE = {
    "id": f"^[A-Za-z][A-Za-z0-9._:#-]{{0,{C.MAX_NAME - 1}}}$",
    "title": f"^[A-Za-z][ -~]{{0,{C.MAX_NAME - 1}}}$",
    f"{EU}.name": f"^[A-Za-z][ -~]{{0,{C.MAX_NAME - 1}}}$",
}
WORDS = ["true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"]


def text_column(array: pa.ChunkedArray | pa.Array, typed: Callable[[Any], Any]) -> Column:
    """A text column of (nearly) distinct cells, kept untyped: only the cells that are not sure text are typed."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return Column(np.arange(len(array), dtype=np.int64), array.to_pylist(), array, typed)


def sure_text(column: Column, name: str) -> np.ndarray:
    """Rows whose cell is sure text for this field (SURE), by Arrow's regular expressions."""
    assert column.text is not None
    text = column.text
    sure = pc.and_(pc.match_substring_regex(text, SURE[name]), pc.invert(pc.is_in(text, pa.array(WORDS))))
    return np.asarray(pc.fill_null(sure, False).to_numpy(zero_copy_only=False), bool)


def _key(v: Any) -> Any:
    """A hashable key telling apart every value a validator could tell apart (True is not 1, 2e26 text is not
    2*10**26)."""
    if isinstance(v, list):
        return ("list", tuple(_key(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((k, _key(x)) for k, x in v.items()))
    if isinstance(v, Decimal):
        return (Decimal, str(v))
    return (type(v), v)


def python_column(values: list) -> Column:
    """A column of Python values encoded by exact keys."""
    index: dict = {}
    distinct: list = []
    codes = np.empty(len(values), np.int64)
    for i, v in enumerate(values):
        k = _key(v)
        code = index.get(k)
        if code is None:
            code = index[k] = len(distinct)
            distinct.append(v)
        codes[i] = code
    return Column(codes, distinct)


def arrow_column(array: pa.ChunkedArray | pa.Array, typed: Callable[[Any], Any]) -> Column:
    """An Arrow column dictionary-encoded in C; only its distinct values reach Python (through `typed`). The
    chunks of a column are encoded as they are (one memo of values across them: each chunk's dictionary extends
    the one before, so the last chunk's is every chunk's), and the codes are the indices as Arrow gives them."""
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array], array.type)
    if pa.types.is_dictionary(array.type):  # e.g. a categorical column written by pandas
        array = array.cast(array.type.value_type)
    if pa.types.is_null(array.type):
        return Column(np.zeros(len(array), np.int64), [typed(None)])
    if pa.types.is_nested(array.type):
        return python_column([typed(v) for v in array.to_pylist()])
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    if not encoded.num_chunks:
        return Column(np.zeros(0, np.int32), [])
    codes = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
    return Column(
        codes[0] if len(codes) == 1 else np.concatenate(codes),
        [typed(v) for v in encoded.chunks[-1].dictionary.to_pylist()],
    )


# ---- the fast path


@dataclass
class Facts:
    """The facts of accepted rows column-wise (predicate -> one array per argument, what SqlEngine.evaluate
    takes without a tuple per fact); the case as row numbers into the accepted rows' ids."""

    columns: dict[str, list[Any]] = field(default_factory=dict)  # Arrow, Coded, NumPy or list columns

    def tuples(self) -> Iterator[tuple]:
        """Every fact as (pred, arg, ...), as Case.facts gives them."""
        for pred, values in self.columns.items():
            yield from zip(
                itertools.repeat(pred), *(v.to_pylist() if isinstance(v, pa.Array) else _listed(v) for v in values)
            )


def _listed(values: Any) -> list:
    return values if isinstance(values, list) else values.tolist()


@dataclass
class Checked:
    """The column-wise verdict on a portfolio: which rows were accepted, and their facts."""

    rows: int
    accepted: np.ndarray  # bool per row
    facts: Callable[[np.ndarray], Facts] = field(repr=False, default=lambda accepted: Facts())


def check(columns: dict[str, Column], rows: int, onto: ontology.Ontology) -> Checked:
    """Accept the rows every check passes (module docstring) and build their facts column by column."""
    checks = _checks(onto)
    missing = Column(np.zeros(rows, np.int64), [MISSING])
    col = {name: columns.get(name, missing) for name in checks}
    ok = np.ones(rows, bool)
    parsed: dict[str, np.ndarray] = {}
    for name, test in checks.items():
        c = col[name]
        if c.text is not None:
            sure = sure_text(c, name)
            out = np.array(c.values, object)
            for i in np.flatnonzero(~sure).tolist():
                try:
                    out[i] = test(c.value(i))
                except (InputError, ValueError, ArithmeticError):
                    out[i] = BAD
            good = np.array([o is not BAD for o in out[~sure]], bool)
            ok[~sure] &= good
            parsed[name] = out
            continue
        out = np.empty(len(c.values), object)
        for i, v in enumerate(c.values):
            try:
                out[i] = test(v)
            except (InputError, ValueError, ArithmeticError):
                out[i] = BAD
        good = np.array([o is not BAD for o in out], bool)
        ok &= good[c.codes]
        parsed[name] = out
    for name in MAPPINGS + tuple(n for n in columns if n in ("what_if", "expected") or n.startswith("expected.")):
        if name in columns:
            c = columns[name]
            ok &= np.array([v is None or v is MISSING for v in c.values], bool)[c.codes]

    def value(name: str) -> np.ndarray:
        return parsed[name][col[name].codes]

    def group(names: tuple[str, ...], test: Callable[..., Any]) -> np.ndarray:
        """Run `test` once per distinct combination of these columns' values; its result per row."""
        combined = combine([col[n].codes for n in names], rows)
        first = firsts(combined)
        results = np.empty(len(first), object)
        for k, row in enumerate(first):
            args = [parsed[n][col[n].codes[row]] for n in names]
            try:
                results[k] = BAD if any(a is BAD for a in args) else test(*args)
            except InputError:
                results[k] = BAD
        return results[combined]

    r = C._Reader("", onto)
    q, t = "transaction.quantity", "transaction.tpp_per_unit"
    ok &= group((q, t), lambda a, b: C.volume(r, a, b) or True) != BAD  # type: ignore[func-returns-value]
    model = (f"{M}.training_ops", f"{M}.derived_from_published_model", f"{M}.additional_training_ops")
    ok &= group(model, lambda a, b, c: C.model_consistency(r, a, b, c) or True) != BAD  # type: ignore[func-returns-value]
    holdings = group((f"{EU}.veu", "transaction.destination_country") + HOLDINGS, lambda *a: _holdings(r, col, *a))
    ok &= holdings != BAD
    nveu = group((f"{EU}.veu",) + NVEU, lambda *a: _nveu(r, col, *a))
    ok &= nveu != BAD
    chains = group((f"{EU}.parent_chain", f"{EU}.ultimate_parent_hq_country"), lambda a, b: _chain(r, a, b))
    ok &= chains != BAD
    names = value(f"{EU}.name")
    for row in np.flatnonzero(ok & np.array([isinstance(c, tuple) and len(c) > 0 for c in chains], bool)).tolist():
        if any(p.name == names[row] for p in chains[row]):  # the end user named in its own chain: a loop
            ok[row] = False

    def facts(accepted: np.ndarray) -> Facts:
        """The facts of the accepted rows, built from whole columns (no Python frame per fact)."""
        keep = np.flatnonzero(accepted)
        case = value("id")[keep]
        at = {name: Coded(parsed[name], col[name].codes[keep]) for name in parsed}
        given = {name: _given(parsed[name])[col[name].codes[keep]] for name in GIVEN.values()}
        columns = _scalar_columns(case, at, given)
        columns.update(_structured_columns(columns["case"][0], at, holdings[keep], nveu[keep], chains[keep]))
        return Facts(columns)

    return Checked(rows, ok, facts)


def _holdings(r: C._Reader, col: dict, veu: Any, destination: Any, *parts: Any) -> tuple | None:
    present = {k.rsplit(".", 1)[1]: v for k, v in zip(HOLDINGS, parts) if col[k].values != [MISSING]}
    if not present or all(v is None for v in present.values()):
        return None
    if veu != "UVEU":
        r.fail("", "")
    return C._holdings(r, present, "h", destination)


def _nveu(r: C._Reader, col: dict, veu: Any, destination: Any, cumulative: Any) -> tuple | None:
    if all(v is None for v in (destination, cumulative)):
        return None
    if veu != "NVEU" or col[NVEU[0]].values == [MISSING]:
        r.fail("", "")
    total = r.integer(0 if cumulative is None else cumulative, "c", C.MAX_TPP_TOTAL)
    return (r.country(destination, "d"), total)


def _chain(r: C._Reader, chain: Any, parent_hq: Any) -> tuple:
    # "\x00" is no name a chain can hold (control characters are refused), so only the chain's own loops count
    return C._parent_chain(r, chain, "\x00", parent_hq, "p")


def _given(values: np.ndarray) -> np.ndarray:
    """Per distinct value: whether Case.facts states it (text when not empty, anything else when not null)."""
    return np.array([bool(v) if isinstance(v, str) else v is not None for v in values], bool)


GIVEN = {  # predicate: column, for the facts stated only when the field is given
    "quantity": "transaction.quantity",
    "tpp_per_unit": "transaction.tpp_per_unit",
    "training_ops": f"{M}.training_ops",
    "memory_bandwidth": "transaction.memory_bandwidth_gb_s",
    "additional_training_ops": f"{M}.additional_training_ops",
    "frontier_ops_given": f"{M}.open_weight_frontier_ops",
    "hq": f"{EU}.hq_country",
    "declared_parent_hq": f"{EU}.ultimate_parent_hq_country",
    "veu": f"{EU}.veu",
}


def _scalar_columns(case: np.ndarray, at: dict[str, Coded], given: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """The scalar facts column-wise: the case as one Arrow column of row numbers into the ids (filtered per
    predicate), the arguments as codes into their distinct values."""
    tx = "transaction"
    always = {
        "as_of": "as_of",
        "mode": "mode",
        "kind": f"{tx}.kind",
        "item": f"{tx}.item",
        "origin": f"{tx}.from_country",
        "destination": f"{tx}.destination_country",
        "end_user": f"{EU}.name",
        "end_use": f"{EU}.end_use",
        "consignee_ytd": f"{tx}.consignee_tpp_already_this_year",
        "country_allocated": f"{tx}.country_tpp_already_allocated",
    }
    flags = {
        "weights_published": f"{M}.weights_published",
        "derived_from_published": f"{M}.derived_from_published_model",
        "g2g": f"{tx}.gov_to_gov_arrangement",
    }
    # The case as row numbers into the ids (unique among the accepted rows): the engine takes them as its keys
    ids = pa.DictionaryArray.from_arrays(pa.array(np.arange(len(case), dtype=np.int32)), pa.array(case))
    out: dict[str, list[Any]] = {"case": [ids]}
    for pred, name in always.items():
        out[pred] = [ids, at[name]]
    for pred, name in GIVEN.items():
        present = given[name]
        out[pred] = [ids.filter(pa.array(present)), at[name][present]]
    for pred, name in flags.items():
        out[pred] = [ids.filter(pa.array(at[name].truth()))]
    facts = at[f"{tx}.facts"]
    listed = [(i, flag) for i in np.flatnonzero(facts.truth()).tolist() for flag in facts.value(i)]
    rows = pa.array(np.array([i for i, _ in listed], np.int32), pa.int32())
    out["flag"] = [ids.take(rows), np.array([f for _, f in listed], object)]
    return out


def _structured_columns(
    ids: pa.DictionaryArray, at: dict[str, Coded], holdings: np.ndarray, nveu: np.ndarray, chains: np.ndarray
) -> dict[str, list[Any]]:
    """The holdings, NVEU and chain facts column-wise, keyed like the scalar ones (row numbers into the ids):
    the engine takes those keys as they are, with no look-up of case names."""
    out: dict[str, list[Any]] = {}

    def put(pred: str, rows: list[int], args: list[tuple]) -> None:
        if rows:
            out[pred] = [ids.take(pa.array(rows, pa.int32())), *map(list, zip(*args))]

    held = [i for i, h in enumerate(holdings.tolist()) if h is not None]
    put("uveu_holdings", held, [holdings[i] for i in held])
    authorized = [i for i, a in enumerate(nveu.tolist()) if a is not None]
    put("nveu_authorization", authorized, [nveu[i] for i in authorized])
    names = at[f"{EU}.name"]
    rows: list[int] = []
    controls: list[tuple] = []
    located: list[tuple] = []
    for i, chain in enumerate(chains.tolist()):
        if not chain:
            continue
        child = names.value(i)
        for party in chain:
            assert isinstance(party, Party)
            rows.append(i)
            controls.append((party.name, child))
            located.append((party.name, party.hq_country))
            child = party.name
    put("controls", rows, controls)
    put("entity_hq", rows, located)
    return out
