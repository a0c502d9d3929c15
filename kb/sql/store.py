"""Answers kept on disk between processes: an evaluation whose inputs are small is written once and read back by
any later process that asks exactly the same question (the baseline grid classes, for one).

The key is a SHA-256 digest of everything that decides the rows: this engine's own source files, the DuckDB
version, the backend, the program (declarations and rules), the base facts and the case facts (as Arrow IPC
bytes), the asked predicates and whether the case abstraction is on. Equal keys mean the same computation, so
a stored answer is the answer (a changed rule, fact, reform or engine gives another key). Files are Arrow IPC
and JSON only: reading them runs no code. Each entry is written in a temporary directory and renamed into
place, so a concurrent reader sees a whole entry or none.

Settings, read at first use: AIDKB_SQL_STORE names the directory (default: $XDG_CACHE_HOME/aidkb/sql, or
~/.cache/aidkb/sql); AIDKB_SQL_STORE=off keeps nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

MAX_INPUT_ROWS = 100_000  # larger evaluations (portfolios) are not kept: they are rarely asked twice
MAX_ENTRIES = 64  # the oldest entries beyond these are removed when one is added


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the SQL engine's source files and the DuckDB version (an engine change gives new keys)."""
    import duckdb

    h = hashlib.sha256(duckdb.__version__.encode())
    here = Path(__file__).resolve().parent
    for path in sorted([here.parent / "sqlengine.py", *here.glob("*.py")]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def table_digest(h, name: str, table: pa.Table) -> None:
    """Feed one named table (schema and values) into the digest `h`."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    h.update(name.encode() + b"\0")
    h.update(sink.getvalue())


class ResultStore:
    """A directory of stored answers, one subdirectory per key."""

    def __init__(self, directory: Path):
        self.directory = directory

    @staticmethod
    def from_environment() -> ResultStore | None:
        setting = os.environ.get("AIDKB_SQL_STORE", "")
        if setting.lower() == "off":
            return None
        if setting:
            return ResultStore(Path(setting))
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return ResultStore(Path(cache) / "aidkb" / "sql")

    def read(self, key: str) -> dict | None:
        """The stored entry (tables, case names, maps, meta) or None."""
        entry = self.directory / key
        try:
            meta = json.loads((entry / "meta.json").read_text())
            tables = {pred: _read(entry / f"t{i}.arrow") for i, pred in enumerate(meta["preds"])}
            names = _read(entry / "names.arrow").column(0).combine_chunks() if meta["names"] else None
            maps = _read(entry / "maps.arrow") if meta["maps"] else None
        except (OSError, ValueError, KeyError, pa.ArrowException):
            return None  # absent, or written by another layout: computed again
        columns = [c.to_numpy() for c in maps.columns] if maps is not None else None
        return {"tables": tables, "names": names, "maps": columns, "columns": meta["columns"]}

    def write(
        self,
        key: str,
        tables: dict[str, pa.Table],
        names: pa.Array | None,
        maps: list[np.ndarray] | None,
        columns: dict[str, int],
    ) -> None:
        """Keep an entry (quietly not, if the directory cannot be written: the store only saves time)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.directory))
            preds = sorted(tables)
            for i, pred in enumerate(preds):
                _write(tmp / f"t{i}.arrow", tables[pred])
            if names is not None:
                _write(tmp / "names.arrow", pa.table({"name": names}))
            if maps is not None:
                _write(tmp / "maps.arrow", pa.table({f"m{i}": m for i, m in enumerate(maps)}))
            (tmp / "meta.json").write_text(
                json.dumps({"preds": preds, "names": names is not None, "maps": maps is not None, "columns": columns})
            )
            try:
                tmp.rename(self.directory / key)
            except OSError:  # another process stored the same answers first
                shutil.rmtree(tmp, ignore_errors=True)
            self._prune()
        except OSError:
            return

    def _prune(self) -> None:
        entries = sorted(
            (p for p in self.directory.iterdir() if not p.name.startswith(".")), key=lambda p: p.stat().st_mtime
        )
        for old in entries[:-MAX_ENTRIES]:
            shutil.rmtree(old, ignore_errors=True)


def evaluation_key(engine_digest: str, inputs: Iterable[tuple[str, pa.Table]], wanted: Iterable[str]) -> str:
    h = hashlib.sha256(engine_digest.encode())
    h.update(json.dumps(sorted(wanted)).encode())
    for pred, table in inputs:
        table_digest(h, pred, table)
    return h.hexdigest()


def _write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()
