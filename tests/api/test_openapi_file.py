"""The OpenAPI document is shipped with the package (app/openapi.json) and is exactly what the server serves.

After an intended change of the API or of its schemas: AIDKB_UPDATE_GOLDEN=1 .venv/bin/python -m pytest
tests/api/test_openapi_file.py, and review the diff."""

from __future__ import annotations

import json
import os
from importlib.resources import files

SHIPPED = files("aidkb.app").joinpath("openapi.json")


def test_the_shipped_openapi_document_is_the_served_one(client):
    served = client.get("/openapi.json")
    assert served.status_code == 200
    text = json.dumps(served.json(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("AIDKB_UPDATE_GOLDEN"):
        with open(str(SHIPPED), "w", encoding="utf-8") as out:
            out.write(text)
    assert SHIPPED.is_file(), "no app/openapi.json: run AIDKB_UPDATE_GOLDEN=1 pytest tests/api/test_openapi_file.py"
    assert SHIPPED.read_text(encoding="utf-8") == text, "app/openapi.json differs from the served document"
