"""Each Lambda invocation in a worker process, the way Lambda runs one invocation per execution environment.

The local stack's servers (moto, the HTTP API stand-in, the event source mapping stand-in, the
emulators) stay in the stack's process; the functions run in a pool of worker processes that talk to
them over HTTP, as deployed functions talk to AWS. Each worker imports every function's handler once
(a warm execution environment, reused for later invocations) and runs one invocation at a time, so
production modules never see two invocations on threads of one process, and the rig uses every core.

Workers are started with ``spawn``: the stack's process runs server threads, and a forked copy of
their locks could be held forever. (A ``forkserver`` preloading boto3, pydantic, httpx and Powertools
was measured: 2.9 against 3.4 CPU seconds per worker start on a loaded machine, most of it is the
handlers' own imports, so not worth a second start method.) ``startup_cpu`` keeps what each cost.

Workers ignore SIGINT: Ctrl-C in a terminal reaches the whole process group, and ``make run`` drains
the invocations in flight before it stops (the stack's process decides, not the workers).

A worker that dies mid-invocation (killed, out of memory) fails that invocation like a crashed Lambda
(the poller returns the batch to the queue; the HTTP API answers 500) and the pool is replaced.

Probes (``probes``: dotted ``module:factory`` names) are how a benchmark measures code it must not
change: each worker builds them before the handlers are imported (so boto3 hooks reach every client),
hands them the loaded modules, and returns what each one collected with every invocation's answer.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Protocol

from local.lambda_runtime import LocalLambdaContext, load_handler, module_name
from local.template import FunctionSpec


class WorkerProbe(Protocol):
    """Measures inside a worker; what ``finish`` returns is sent back with the invocation's answer."""

    def loaded(self, modules: dict[str, Any]) -> None: ...

    def start(self, logical_id: str) -> None: ...

    def finish(self) -> Any: ...


@dataclass
class WorkerInvocation:
    """What one invocation cost in its worker (the stack's process only waits for it)."""

    function: str
    pid: int
    wall: float  # seconds, the handler call as Lambda would bill it (before rounding)
    cpu: float  # CPU seconds of the worker process during the call (every thread of the function)
    probes: dict[str, Any] = field(default_factory=dict)


class WorkerCrashed(RuntimeError):
    """The worker died during the invocation (the execution environment was lost)."""


# ---------------------------------------------------------------------- inside a worker
_handlers: dict[str, Any] = {}
_probes: dict[str, WorkerProbe] = {}
_startup_cpu = 0.0


def exit_with_parent(interval: float = 0.5) -> None:
    """Ends this process when the process that started it is gone (a ``kill -9`` of ``make run``).

    A worker waits on its task pipe forever otherwise: the stack's process would leave orphans.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _initialize(environment: dict[str, str], specs: list[FunctionSpec], probes: tuple[str, ...]) -> None:
    # The stack's process decides when to stop (after draining); see the module docstring.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    os.environ.clear()
    os.environ.update(environment)
    for name in probes:
        module, factory = name.split(":")
        _probes[name] = getattr(importlib.import_module(module), factory)()
    for spec in specs:
        _handlers[spec.logical_id] = load_handler(spec)
    modules = {spec.logical_id: sys.modules[module_name(spec)] for spec in specs}
    for probe in _probes.values():
        probe.loaded(modules)
    global _startup_cpu  # noqa: PLW0603 - once per worker
    _startup_cpu = time.process_time()


def _invoke(logical_id: str, event: dict[str, Any], timeout: float) -> tuple[Any, WorkerInvocation]:
    for probe in _probes.values():
        probe.start(logical_id)
    started, cpu = time.perf_counter(), time.process_time()
    try:
        response = _handlers[logical_id](
            event, LocalLambdaContext(function_name=logical_id, timeout_seconds=timeout)
        )
    finally:
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        collected = {name: probe.finish() for name, probe in _probes.items()}
    return response, WorkerInvocation(logical_id, os.getpid(), wall, cpu, collected)


def _ready() -> tuple[int, float]:
    return os.getpid(), _startup_cpu


# ---------------------------------------------------------------------- in the stack's process
class LambdaWorkers:
    """A pool of ``size`` warm worker processes; ``invoke`` blocks until a worker answered."""

    def __init__(
        self,
        specs: list[FunctionSpec],
        environment: dict[str, str],
        size: int,
        *,
        probes: tuple[str, ...] = (),
    ) -> None:
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.size = size
        self._initargs = (dict(environment), list(specs), tuple(probes))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._executor = self._new_executor()
        self.replaced = 0  # pools replaced after a worker died
        self.invocations_by_pid: Counter[int] = Counter()  # warm reuse, seen from outside
        self.startup_cpu: dict[int, float] = {}  # CPU seconds a worker took to start (fork + handlers)

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.size,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialize,
            initargs=self._initargs,
        )

    def warm(self, timeout: float | None = None) -> None:
        """Starts every worker now (imports included), so no invocation pays for a cold start later.

        No timeout by default: on a loaded machine 20 workers took over 5 minutes to start.
        """
        with self._lock:
            executor = self._executor
        # The pool starts a worker for each task that finds none idle: ``size`` tasks start them all.
        for future in [executor.submit(_ready) for _ in range(self.size)]:
            pid, cpu = future.result(timeout=timeout)
            self.startup_cpu[pid] = cpu

    def invoke(self, logical_id: str, event: dict[str, Any], timeout: float) -> Any:
        with self._lock:
            executor = self._executor
        self._local.last = None
        try:
            response, invocation = executor.submit(_invoke, logical_id, event, timeout).result()
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise WorkerCrashed(f"the worker running {logical_id} died; the invocation failed") from exc
        with self._lock:
            self.invocations_by_pid[invocation.pid] += 1
        self._local.last = invocation
        return response

    def worker_pids(self) -> set[int]:
        """The pool's live worker processes (the executor keeps no public list)."""
        with self._lock:
            return set(self._executor._processes or {})  # noqa: SLF001

    def last_invocation(self) -> WorkerInvocation | None:
        """The cost of this thread's last completed invocation (read right after ``invoke``)."""
        return getattr(self._local, "last", None)

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor = self._new_executor()
                self.replaced += 1
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)
