"""Fixtures of the HTTP API tests: one app (with its deadline workers) per session, the bundled case files as
JSON bodies, and the command line's own answers for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from aidkb.queries.reader import Numeral, read_document

from ..conftest import OWN_CASES, ROOT, SHARED_CASES

CASE_FILES = sorted(OWN_CASES.glob("*.yaml")) + sorted(SHARED_CASES.glob("*.yaml"))
AIDKB = Path(sys.executable).with_name("aidkb")
STRING_FIELDS = {"item", "id", "title", "name", "citations", "text", "explanation"}  # a 4E091 here is text


def json_text(value, key: str | None = None) -> str:
    """A case file's data (aidkb.queries.reader: exact Decimals, Numerals such as 2e26) as the JSON text a client
    would send: numbers stay exact, an ECCN stays a string."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {json_text(v, k)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(json_text(v, key) for v in value) + "]"
    if isinstance(value, Numeral) and key not in STRING_FIELDS:
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def case_body(path: Path) -> str:
    return json_text(read_document(path))


def post_json(client, url: str, text: str):
    return client.post(url, content=text.encode("utf-8"), headers={"content-type": "application/json"})


def comparable(decision):
    """A decision (or a list of them, or a proof) without where its question came from: a file path on the
    command line, `request` over HTTP (the proof's question.source and the `file` of each case fact)."""

    def walk(node):
        if isinstance(node, dict):
            return {
                k: (
                    "<source>"
                    if (k == "file" and node.get("type") == "case")
                    or (k == "source" and isinstance(v, str) and "inputs" in node)
                    else walk(v)
                )
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(decision)


@pytest.fixture(scope="session")
def client():
    from fastapi.testclient import TestClient

    from aidkb.app.api import create_app
    from aidkb.queries.service import Pool

    pool, slow = Pool(2, seconds=120), Pool(1, seconds=120)
    try:
        with TestClient(create_app(pool=pool, slow=slow), raise_server_exceptions=False) as c:
            yield c
    finally:
        pool.close()
        slow.close()


def cli_decide_json(folder: Path) -> list[dict]:
    """`aidkb decide FOLDER --json`, run as the command line (the answers every HTTP answer is compared with)."""
    run = subprocess.run(
        [str(AIDKB), "decide", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="session")
def cli_decisions() -> dict[str, dict]:
    """The command line's decisions of both case folders, by case id."""
    return {d["id"]: d for folder in (OWN_CASES, SHARED_CASES) for d in cli_decide_json(folder)}
