"""Deadlines: questions run in a worker process that is killed when it overruns its time budget.

pyDatalog can hang for good (right recursion over a cycle, shared/engine-notes.md) inside code that signals
do not interrupt, so a budget can only be enforced from outside: the caller sends work to a worker process,
waits at most `seconds`, and on overrun kills the worker (a new one starts on the next call) and raises
DeadlineExceeded. The worker keeps its engines between calls, so only the first call pays its start-up.
From a single-threaded process (the CLI) the worker is forked and inherits everything already loaded; from a
multi-threaded one (Streamlit) it is spawned, because forking a threaded process is unsafe.

What keeps a caller from being frozen or confused:
- every call carries a request id, and a reply (or progress message) whose id is not the current call's is
  discarded, never returned: an answer always belongs to the question it answers;
- a call that is abandoned for any reason (overrun, an exception raised by the caller's progress or waiting
  callback, e.g. Streamlit stopping a script run) kills the worker, so no old work goes on or answers late;
- the worker has an address-space limit (AIDKB_WORKER_MEMORY_MB, default 4096): a question that needs more
  gets MemoryLimitExceeded, not a machine that swaps;
- the worker ends by itself when its parent process dies (it watches its parent), when its pipe closes, and,
  with `idle_seconds`, after that long without a question (the Streamlit explorer: a closed tab's worker goes).

Settings come from the environment and are read (and checked) at first use, not at import: AIDKB_DEADLINE
(seconds, default 60), AIDKB_WORKER_MEMORY_MB (default 4096; 0 for no limit), AIDKB_WORKER_IDLE (seconds; read
by callers that want an idle limit, see idle_seconds_from_env). A bad value raises aidkb.kb.errors.UsageError.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import threading
import time
import weakref
from typing import Any

from .errors import AidkbError, UsageError, show

DEADLINE_VARIABLE = "AIDKB_DEADLINE"
MEMORY_VARIABLE = "AIDKB_WORKER_MEMORY_MB"
IDLE_VARIABLE = "AIDKB_WORKER_IDLE"
DEFAULT_DEADLINE = 60.0
DEFAULT_MEMORY_MB = 4096
PARENT_CHECK_SECONDS = 1.0  # how often a worker looks whether its parent is still there
TICK_SECONDS = 0.5  # how often a waiting caller's `waiting` callback is called
OUT_OF_MEMORY_EXIT = 3  # a worker's exit status when a question it was sent did not fit in its memory

_SPAWN_LOCK = threading.Lock()
_WORKERS: weakref.WeakSet[Worker] = weakref.WeakSet()  # live workers of this process (their pipe ends)
_CHANNEL = None  # in a worker process: its end of the pipe (tests use it to play a stale reply)


class DeadlineExceeded(AidkbError):
    """The engine did not answer within its time budget; the question was stopped."""

    http_status = 504


class MemoryLimitExceeded(AidkbError):
    """The question needed more memory than the worker may use; it was stopped."""

    http_status = 503


class WorkerFailed(AidkbError):
    """The worker process ended without answering (killed from outside, or crashed)."""

    http_status = 503


# ---- settings, read at first use


def _positive_seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{variable} must be a positive, finite number of seconds, not {show(text)}")
    return value


def default_seconds() -> float:
    """The budget of a question: AIDKB_DEADLINE seconds (default 60), checked (UsageError if it is not a
    positive, finite number)."""
    text = os.environ.get(DEADLINE_VARIABLE)
    return DEFAULT_DEADLINE if text is None else _positive_seconds(DEADLINE_VARIABLE, text)


def memory_limit_mb() -> int | None:
    """The worker's address-space limit in MiB: AIDKB_WORKER_MEMORY_MB (default 4096; 0: no limit)."""
    text = os.environ.get(MEMORY_VARIABLE)
    if text is None:
        return DEFAULT_MEMORY_MB
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"{MEMORY_VARIABLE} must be a whole number of MiB (0 for no limit), not {show(text)}")
    return value or None


def idle_seconds_from_env(default: float) -> float:
    """How long an idle worker stays: AIDKB_WORKER_IDLE seconds, else `default`."""
    text = os.environ.get(IDLE_VARIABLE)
    return default if text is None else _positive_seconds(IDLE_VARIABLE, text)


def _budget(seconds: float | None) -> float:
    if seconds is None:
        return default_seconds()
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"a deadline must be a positive, finite number of seconds, not {show(seconds)}")
    return float(seconds)


# ---- the worker process


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:  # the parent died: this worker was handed to another process
            os._exit(0)


def _limit_memory(megabytes: int | None) -> None:
    if not megabytes:
        return
    try:
        import resource
    except ImportError:  # not a POSIX system: no limit
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(conn, parent: int, megabytes: int | None, idle: float | None) -> None:
    global _CHANNEL
    for other in list(_WORKERS):  # forked: close the inherited parent ends, so that a closed pipe is seen here
        if other._conn is not None and other._conn is not conn:
            try:
                other._conn.close()
            except OSError:
                pass
    _WORKERS.clear()
    _CHANNEL = conn
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="aidkb-parent-watch").start()
    _limit_memory(megabytes)
    while True:
        try:
            if idle is not None and not conn.poll(idle):
                return  # idle too long: end (the caller starts a new worker on its next call)
            message = conn.recv()
        except (EOFError, OSError):
            return  # the pipe closed: the caller is gone
        except MemoryError:
            os._exit(OUT_OF_MEMORY_EXIT)  # the question itself does not fit: no id to answer it with
        if message is None:
            return
        request, call = message  # the call is unpickled here, so that failing to read it is answered too
        out_of_memory = False
        try:
            fn, args, with_progress = pickle.loads(call)
            if with_progress:
                result = (request, True, fn(*args, progress=lambda *p, r=request: conn.send((r, "progress", p))))
            else:
                result = (request, True, fn(*args))
        except MemoryError:
            out_of_memory = True
            result = (
                request,
                False,
                MemoryLimitExceeded(
                    f"the question needed more than the worker's {megabytes or '?'} MiB of memory and was stopped "
                    f"(set {MEMORY_VARIABLE} to change the limit)"
                ),
            )
        except BaseException as e:  # sent back to the caller, who re-raises it
            result = (request, False, e)
        try:
            try:
                conn.send(result)
            except (pickle.PicklingError, TypeError, AttributeError):
                conn.send((request, False, RuntimeError(f"{type(result[2]).__name__}: {result[2]}")))
        except (OSError, EOFError):
            return
        if out_of_memory:
            return  # the heap may be in a bad state after a MemoryError: a fresh worker takes the next call


def _start_without_main(process) -> None:
    """Start a spawned process whose preparation leaves out the parent's __main__ module (multiprocessing
    would run it again in the child, under the name __mp_main__)."""
    from multiprocessing import spawn

    original = spawn.get_preparation_data

    def without_main(name):
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _SPAWN_LOCK:
        spawn.get_preparation_data = without_main
        try:
            process.start()
        finally:
            spawn.get_preparation_data = original


class Worker:
    """A process that runs functions with a deadline. Use as a context manager, or call close().

    seconds: the default budget of a call (None: AIDKB_DEADLINE, read at the first call);
    memory_mb: the worker's address-space limit (None: AIDKB_WORKER_MEMORY_MB; 0: none);
    idle_seconds: the worker ends after that long without a call (None: it stays until closed);
    import_main: whether a spawned worker first runs the caller's __main__ module, as multiprocessing does (so
    that functions defined there can be called). Streamlit installs each page script as __main__, so the app
    says False: a spawned worker would otherwise run the page (st.* calls without a script run context).
    Calls from several threads are served one at a time."""

    def __init__(
        self,
        seconds: float | None = None,
        memory_mb: int | None = None,
        idle_seconds: float | None = None,
        import_main: bool = True,
    ):
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.idle_seconds = idle_seconds
        self.import_main = import_main
        self._process: Any = None  # a multiprocessing Process of the fork or spawn context
        self._conn: Any = None  # its end of the pipe (multiprocessing.connection.Connection)
        self._request = 0
        self._last = 0.0  # when the worker last answered (monotonic)
        self._lock = threading.Lock()  # one call at a time
        self._life = threading.RLock()  # starting and killing the process: close() from another thread waits
        _WORKERS.add(self)

    @property
    def pid(self) -> int | None:
        """The worker process's id while it runs (None before the first call and after a kill)."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        megabytes = memory_limit_mb() if self.memory_mb is None else (self.memory_mb or None)
        single = threading.active_count() == 1 and "fork" in mp.get_all_start_methods()
        ctx: Any = mp.get_context("fork" if single else "spawn")  # its Process class is typed per context
        with self._life:
            self._conn, child = ctx.Pipe()
            self._process = ctx.Process(
                target=_serve, args=(child, os.getpid(), megabytes, self.idle_seconds), daemon=True, name="aidkb-worker"
            )
            if single or self.import_main:
                self._process.start()
            else:
                _start_without_main(self._process)
            child.close()
            self._last = time.monotonic()

    def _stale(self) -> bool:
        """Whether the worker has ended or is about to end for idleness (then a new one takes the call)."""
        if self._process is None or not self._process.is_alive():
            return True
        if self.idle_seconds is None:
            return False
        return time.monotonic() - self._last > self.idle_seconds - min(2.0, self.idle_seconds / 2)

    def call(self, fn, *args, progress=None, seconds: float | None = None, waiting=None):
        """fn(*args) in the worker; DeadlineExceeded if it takes longer than the budget. With `progress`, fn
        is also given a progress=... callable whose calls are relayed to `progress` here. With `waiting`, it is
        called with the seconds waited so far about every TICK_SECONDS while no answer has come; whatever it
        (or `progress`) raises abandons the call: the worker is killed and the exception goes on."""
        budget = _budget(self.seconds if seconds is None else seconds)
        with self._lock:
            self._request += 1
            request = self._request
            call = pickle.dumps((fn, args, progress is not None))  # an argument that cannot be sent fails here
            if self._stale():
                self.kill()
                self._start()
            try:
                self._conn.send((request, call))
            except (BrokenPipeError, ConnectionResetError, EOFError):  # it ended just now: once more, anew
                self._failed()
                self.kill()
                self._start()
                try:
                    self._conn.send((request, call))
                except (BrokenPipeError, ConnectionResetError, EOFError):
                    self._failed(always=True)
            answered = False
            try:
                kind, value = self._wait(request, budget, progress, waiting)
                answered = True
            finally:
                if not answered:  # overrun, the caller gave up, or the worker failed: no work goes on
                    self.kill()
            self._last = time.monotonic()
            if kind is True:
                return value
            if isinstance(value, MemoryLimitExceeded):
                self.kill()
            raise value

    def _wait(self, request: int, budget: float, progress, waiting):
        conn = self._conn  # its own reference: close() from another thread may clear self._conn meanwhile
        if conn is None:
            self._failed(always=True)
        start = time.monotonic()
        deadline = start + budget
        tick = start + TICK_SECONDS
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise DeadlineExceeded(
                    f"no answer within {budget:g} s: the question was stopped "
                    f"(set {DEADLINE_VARIABLE} to change the budget)"
                )
            wait = deadline - now if waiting is None else min(deadline, tick) - now
            try:
                ready = conn.poll(max(0.0, wait))
            except (EOFError, OSError):  # the pipe was closed under the call (the worker was closed)
                self._failed(always=True)
            if not ready:
                if waiting is not None and time.monotonic() >= tick:
                    tick = time.monotonic() + TICK_SECONDS
                    waiting(time.monotonic() - start)
                continue
            try:
                got, kind, value = conn.recv()
            except (EOFError, OSError):
                self._failed(always=True)
            except Exception as e:  # an answer that does not unpickle here
                raise WorkerFailed(f"the worker's answer could not be read ({type(e).__name__}: {e})") from None
            if got != request:
                continue  # a reply or progress message of an earlier, abandoned call: discarded
            if kind == "progress":
                if progress is not None:
                    progress(*value)
                continue
            return kind, value

    def _failed(self, always: bool = False) -> None:
        """The worker ended under a call: MemoryLimitExceeded if the question did not fit in its memory, else
        (with `always`) WorkerFailed. The caller kills what is left of it."""
        process = self._process
        if process is None:  # closed from another thread while the call waited
            raise WorkerFailed("the worker was closed while the question ran; the question was stopped") from None
        process.join(timeout=2)
        code = process.exitcode
        if code == OUT_OF_MEMORY_EXIT:
            self.kill()
            raise MemoryLimitExceeded(
                f"the question did not fit in the worker's memory and was stopped (set "
                f"{MEMORY_VARIABLE} to change the limit)"
            ) from None
        if always:
            self.kill()
            raise WorkerFailed(
                f"the worker process ended without answering (exit code {code}); the question was stopped"
            ) from None

    def kill(self) -> None:
        with self._life:
            if self._process is not None and self._process.pid is not None:  # started (its start may have failed)
                try:
                    self._process.kill()
                    self._process.join(timeout=5)
                except (OSError, ValueError, AssertionError):
                    pass
            if self._conn is not None:
                try:
                    self._conn.close()
                except OSError:
                    pass
            self._process = None
            self._conn = None

    def close(self) -> None:
        with self._life:
            if self._process is not None and self._process.is_alive():
                try:
                    self._conn.send(None)
                    self._process.join(timeout=2)
                except (BrokenPipeError, OSError):
                    pass
            self.kill()

    def __del__(self) -> None:
        try:
            self.kill()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
