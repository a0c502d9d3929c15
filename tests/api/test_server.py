"""A real server: `aidkb serve --port N` on 127.0.0.1 as a subprocess, /health, one decide, stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from aidkb.queries.case import load_case

from .conftest import AIDKB, OWN_CASES, ROOT, case_body, comparable

pytestmark = pytest.mark.slow
LPP = OWN_CASES / "lpp-exactly-at-annual-limit.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start `aidkb serve` and wait (up to `timeout` s, the machine may be busy) until /health answers."""
    process = subprocess.Popen(
        [str(AIDKB), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "AIDKB_API_WORKERS": "1"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(process)
    raise AssertionError(f"no /health within {timeout:g} s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly (lifespan closes the workers)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_a_real_server_answers_as_the_cli(cli_decisions):
    process, url = start_server(free_port())
    try:
        r = httpx.post(
            f"{url}/v1/decide",
            content=case_body(LPP).encode(),
            headers={"content-type": "application/json"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        assert comparable(r.json()) == comparable(cli_decisions[load_case(LPP).id])
        r = httpx.post(
            f"{url}/v1/decide", content=b'{"id": 1}', headers={"content-type": "application/json"}, timeout=60
        )
        assert r.status_code == 422 and r.json()["field"] == "id"
        assert httpx.get(f"{url}/openapi.json", timeout=30).json()["info"]["title"] == "aidkb"
    finally:
        stop_server(process)
    assert process.returncode is not None
