"""Deadlines: questions run in a worker process that is killed when it overruns its time budget.

pyDatalog can hang for good (right recursion over a cycle, shared/engine-notes.md) inside code that signals
do not interrupt, so a budget can only be enforced from outside: the caller sends work to a worker process,
waits at most `seconds`, and on overrun kills the worker (a new one starts on the next call) and raises
DeadlineExceeded. The worker keeps its engines between calls, so only the first call pays its start-up.
From a single-threaded process (the CLI) the worker is forked and inherits everything already loaded; from a
multi-threaded one (Streamlit) it is spawned, because forking a threaded process is unsafe.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import threading
import time

DEFAULT_SECONDS = float(os.environ.get("AIDKB_DEADLINE", "60"))


class DeadlineExceeded(Exception):
    """The engine did not answer within its time budget; the question was stopped."""


def _serve(conn) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        fn, args, with_progress = message
        try:
            if with_progress:
                result = (True, fn(*args, progress=lambda *p: conn.send(("progress", p))))
            else:
                result = (True, fn(*args))
        except BaseException as e:  # sent back to the caller, who re-raises it
            result = (False, e)
        try:
            conn.send(result)
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send((False, RuntimeError(f"{type(result[1]).__name__}: {result[1]}")))


class Worker:
    """A process that runs functions with a deadline. Use as a context manager, or call close()."""

    def __init__(self, seconds: float = DEFAULT_SECONDS):
        self.seconds = seconds
        self._process = None
        self._conn = None

    def _start(self) -> None:
        single = threading.active_count() == 1 and "fork" in mp.get_all_start_methods()
        ctx = mp.get_context("fork" if single else "spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        child.close()

    def call(self, fn, *args, progress=None, seconds: float | None = None):
        """fn(*args) in the worker; DeadlineExceeded if it takes longer than the budget. With `progress`, fn
        is also given a progress=... callable whose calls are relayed to `progress` here."""
        budget = self.seconds if seconds is None else seconds
        if self._process is None or not self._process.is_alive():
            self._start()
        self._conn.send((fn, args, progress is not None))
        deadline = time.monotonic() + budget
        while True:
            if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                self.kill()
                raise DeadlineExceeded(f"no answer within {budget:g} s: the question was stopped "
                                       f"(set AIDKB_DEADLINE to change the budget)")
            kind, value = self._conn.recv()
            if kind == "progress":
                progress(*value)
                continue
            if kind is True:
                return value
            raise value

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join()
        self._process = None

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            try:
                self._conn.send(None)
                self._process.join(timeout=2)
            except (BrokenPipeError, OSError):
                pass
        self.kill()

    def __del__(self) -> None:
        self.kill()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
