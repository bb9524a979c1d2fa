"""Measuring the local pipeline without changing it: AWS calls, handler time, processing order, log bytes.

Everything here hooks from the outside (boto3 event hooks, wrappers around the stack's handlers), so
the functions under test run unmodified.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
import math
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3

# A context variable, not a thread-local: the processor's tenant groups run on pool threads in a copy of
# the invoking context, and their AWS calls are the processor's.
_role: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_role", default=None)
# In a worker process every call not marked otherwise is the running function's own (its threads too).
_process_role: str | None = None


def current_role() -> str:
    role = _role.get()
    if role:
        return role
    if _process_role:
        return _process_role
    name = threading.current_thread().name
    # The local event source mapping's own calls: what Lambda's pollers would do (and bill) in AWS.
    if name.startswith("esm-poller"):
        return "esm"
    if name.startswith("esm-visibility"):
        return "esm-heartbeat"
    return "harness"


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    token = _role.set(role)
    try:
        yield
    finally:
        _role.reset(token)


# ---------------------------------------------------------------------- DynamoDB capacity estimate
_TYPE_KEYS = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def _attribute_size(value: Any) -> int:
    """Bytes of one DynamoDB attribute value after the published sizing rules (approximately).

    Takes the wire form ({"S": "x"}) or, when boto3's resource layer has already deserialised the
    answer, the Python value.
    """
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _TYPE_KEYS:
        ((kind, inner),) = value.items()
        if kind == "N":
            return _number_size(inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + _attribute_size(v) for k, v in inner.items())
        if kind == "L":
            return 3 + sum(1 + _attribute_size(v) for v in inner)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS"):
            return sum(_attribute_size(v) for v in inner)
        value = inner
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return _number_size(value)
    if isinstance(value, dict):
        return 3 + sum(len(str(k).encode()) + _attribute_size(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(1 + _attribute_size(v) for v in value)
    return len(bytes(getattr(value, "value", value)))


def _number_size(value: Any) -> int:
    return len(str(value).lstrip("-").replace(".", "")) // 2 + 1


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _attribute_size(value) for name, value in item.items())


@dataclass
class CallStats:
    calls: Counter = field(default_factory=Counter)  # (role, service, operation) -> count
    empty_receives: Counter = field(default_factory=Counter)  # role -> ReceiveMessage with no message
    rru: Counter = field(default_factory=Counter)  # role -> DynamoDB read request units (estimated)
    wru: Counter = field(default_factory=Counter)  # role -> DynamoDB write request units (estimated)

    def minus(self, before: CallStats) -> CallStats:
        return CallStats(
            self.calls - before.calls,
            self.empty_receives - before.empty_receives,
            self.rru - before.rru,
            self.wru - before.wru,
        )

    def by_role(self, *roles: str) -> Counter:
        """``service:Operation`` -> calls made by any of ``roles``."""
        out: Counter = Counter()
        for (role, service, operation), count in self.calls.items():
            if role in roles:
                out[f"{service}:{operation}"] += count
        return out


class AwsCallCounter:
    """Counts every boto3 call in this process by role, with DynamoDB request units estimated.

    Registered on boto3's default session before the stack creates any client: botocore copies the
    session's event hooks into each client when it is created.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stats = CallStats()
        session = boto3._get_default_session()  # noqa: SLF001 - the session boto3.client() uses
        session.events.register("before-call", self._guarded(self._before))
        session.events.register("after-call", self._guarded(self._after))
        self.hook_errors = 0

    def _guarded(self, hook: Any) -> Any:
        # A measuring hook must never turn into a failed AWS call of the code under test.
        def run(**kwargs: Any) -> None:
            try:
                hook(**kwargs)
            except Exception:  # noqa: BLE001
                with self._lock:
                    self.hook_errors += 1

        return run

    def add(self, stats: CallStats) -> None:
        """Adds calls counted elsewhere (a worker process's, sent back with its invocation)."""
        with self._lock:
            self.stats.calls.update(stats.calls)
            self.stats.empty_receives.update(stats.empty_receives)
            self.stats.rru.update(stats.rru)
            self.stats.wru.update(stats.wru)

    def take(self) -> CallStats:
        """What was counted since the last ``take``, and a fresh count."""
        with self._lock:
            stats, self.stats = self.stats, CallStats()
        return stats

    def snapshot(self) -> CallStats:
        with self._lock:
            return CallStats(
                Counter(self.stats.calls),
                Counter(self.stats.empty_receives),
                Counter(self.stats.rru),
                Counter(self.stats.wru),
            )

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        role = current_role()
        wru = 0.0
        if service == "dynamodb" and model.name in ("GetItem", "Query", "Scan"):
            # DynamoDB reads are eventually consistent unless asked otherwise; consistent ones cost double.
            context["bench_consistent_read"] = bool(
                json.loads(params.get("body") or b"{}").get("ConsistentRead")
            )
        if service == "dynamodb" and model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            request = json.loads(params.get("body") or b"{}")
            # Put: the item's own size; update/delete: assume an item under 1 KB (not visible here).
            size = item_size(request["Item"]) if "Item" in request else 0
            wru = max(1, math.ceil(size / 1024))
        if service == "dynamodb" and model.name == "BatchWriteItem":
            # Each item of a batch costs what its own put or delete would: batching saves calls, not units.
            request = json.loads(params.get("body") or b"{}")
            for writes in request.get("RequestItems", {}).values():
                for write in writes:
                    size = item_size(write["PutRequest"]["Item"]) if "PutRequest" in write else 0
                    wru += max(1, math.ceil(size / 1024))
        with self._lock:
            self.stats.calls[(role, service, model.name)] += 1
            self.stats.wru[role] += wru

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        role = current_role()
        rru = 0.0
        if service == "dynamodb" and model.name in ("GetItem", "Query", "Scan"):
            items = [parsed["Item"]] if parsed.get("Item") else parsed.get("Items", [])
            size = sum(item_size(i) for i in items)
            consistent = context.get("bench_consistent_read", False)
            # One unit per 4 KB read (a miss still costs one); eventually consistent reads cost half.
            rru = max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)
        empty = service == "sqs" and model.name == "ReceiveMessage" and not parsed.get("Messages")
        with self._lock:
            self.stats.rru[role] += rru
            if empty:
                self.stats.empty_receives[role] += 1


# ---------------------------------------------------------------------- handler timing and order
# CPU seconds spent by the current invocation on threads other than the invoking one (the processor's
# tenant groups run on a pool; Lambda bills the invocation, and its CPU is all of its threads').
_worker_cpu: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("worker_cpu", default=None)


def measure_record_cpu(processor_module: Any) -> None:
    """Wraps the processor's ``record_handler``: CPU of records run on worker threads counts for their
    invocation (the groups run in a copy of the invoking context, so the sink travels with them)."""
    original = processor_module.record_handler

    def record_handler(record: Any) -> Any:
        sink = _worker_cpu.get()
        invoking = sink is None or threading.get_ident() == sink[1]
        cpu0 = time.thread_time()
        try:
            return original(record)
        finally:
            if not invoking:
                sink[0] += time.thread_time() - cpu0  # type: ignore[index]

    processor_module.record_handler = record_handler


@dataclass
class Invocation:
    function: str
    records: int
    wall: float  # seconds, as Lambda would bill it (before rounding up to the ms)
    cpu: float  # CPU seconds of the invoking thread: no remote work (moto, emulators) counted
    started_wall: float  # epoch seconds, comparable with the emulators' request logs
    ended_wall: float
    groups: int = 1  # message groups (tenants) in the batch


class HandlerTimer:
    """Wraps the stack's handlers: each invocation's wall and thread CPU time, and its AWS role."""

    def __init__(self, stack: Any, on_worker_invocation: Any = None) -> None:
        self._lock = threading.Lock()
        # With worker processes the handler runs elsewhere: its cost and probes come back with it.
        self._workers = stack.workers
        self._on_worker_invocation = on_worker_invocation
        self.invocations: list[Invocation] = []
        # FIFO promise: one batch per message group in flight. Counted, not assumed, because the
        # local poller relies on moto for it.
        self._groups_in_flight: Counter = Counter()
        self.overlapping_group_deliveries = 0
        for logical_id in ("WebhookFunction", "ProcessorFunction"):
            stack.handlers[logical_id] = self._wrap(logical_id, stack.handlers[logical_id])

    def _wrap(self, logical_id: str, handler: Any) -> Any:
        role = "processor" if logical_id == "ProcessorFunction" else "webhook"

        def timed(event: dict[str, Any], context: Any) -> Any:
            records = len(event.get("Records", [])) or 1
            groups = {r["attributes"].get("MessageGroupId") for r in event.get("Records", [])}
            with self._lock:
                self.overlapping_group_deliveries += sum(1 for g in groups if self._groups_in_flight[g])
                self._groups_in_flight.update(groups)
            sink = [0.0, threading.get_ident()]
            token = _worker_cpu.set(sink)
            with acting_as(role):
                epoch, started, cpu0 = time.time(), time.perf_counter(), time.thread_time()
                try:
                    return handler(event, context)
                finally:
                    ended, cpu1 = time.perf_counter(), time.thread_time() + sink[0]
                    _worker_cpu.reset(token)
                    worker = self._workers.last_invocation() if self._workers else None
                    if worker is not None:
                        # The worker's own figures (its process CPU: every thread of the function);
                        # the round trip to it is not the function's time.
                        started, ended, cpu0, cpu1 = 0.0, worker.wall, 0.0, worker.cpu
                        if self._on_worker_invocation:
                            self._on_worker_invocation(worker)
                    with self._lock:
                        self._groups_in_flight.subtract(groups)
                        self.invocations.append(
                            Invocation(
                                logical_id,
                                records,
                                ended - started,
                                cpu1 - cpu0,
                                epoch,
                                epoch + ended - started,
                                max(1, len(groups)),
                            )
                        )

        return timed

    def mark(self) -> int:
        with self._lock:
            return len(self.invocations)

    def since(self, mark: int, function: str) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations[mark:] if i.function == function]


@dataclass
class Processed:
    tenant_id: str
    event_id: str
    receive_count: int
    started_wall: float  # epoch seconds
    ended_wall: float = 0.0


class ProcessingRecorder:
    """Wraps the processor's EventProcessor.process: which event of which tenant started when."""

    def __init__(self, processor_module: Any | None) -> None:
        """``None``: the processor runs in worker processes, whose probes ``extend`` this record."""
        self._lock = threading.Lock()
        self.processed: list[Processed] = []
        if processor_module is not None:
            self._wrap(processor_module)

    def extend(self, entries: list[Processed]) -> None:
        with self._lock:
            self.processed.extend(entries)

    def _wrap(self, processor_module: Any) -> None:
        event_processor = processor_module.event_processor
        original = event_processor.process

        def process(envelope: Any, *, receive_count: int = 1) -> Any:
            entry = Processed(envelope.tenant_id, envelope.event_id, receive_count, time.time())
            with self._lock:
                self.processed.append(entry)
            try:
                return original(envelope, receive_count=receive_count)
            finally:
                entry.ended_wall = time.time()

        event_processor.process = process

    def mark(self) -> int:
        with self._lock:
            return len(self.processed)

    def since(self, mark: int) -> list[Processed]:
        with self._lock:
            return list(self.processed[mark:])


class BenchWorkerProbe:
    """The bench's measuring inside a worker process (``local.workers.WorkerProbe``).

    Counts the worker's AWS calls (registered before the handlers create their clients), records
    the processor's event starts, and counts the bytes the functions log at the deployed level (INFO,
    EMF metrics on: what CloudWatch Logs would ingest); each invocation's share goes back with it.
    """

    def __init__(self) -> None:
        os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "INFO"
        self.calls = AwsCallCounter()
        self.recorder: ProcessingRecorder | None = None
        self.sink = _CountingStream()
        self._stdout: Any = None

    def loaded(self, modules: dict[str, Any]) -> None:
        from momentsync.observability import logger  # noqa: PLC0415 - the functions' shared Logger

        logger.registered_handler.setStream(self.sink)
        logger.setLevel("INFO")
        self.recorder = ProcessingRecorder(modules["ProcessorFunction"])

    def start(self, logical_id: str) -> None:
        global _process_role  # noqa: PLW0603 - one invocation at a time in a worker
        _process_role = "processor" if logical_id == "ProcessorFunction" else "webhook"
        self._stdout = redirect_stdout(self.sink)  # EMF metric blobs are printed to stdout
        self._stdout.__enter__()
        self.calls.take()
        self.sink.bytes = 0
        if self.recorder:
            self.recorder.processed.clear()

    def finish(self) -> dict[str, Any]:
        if self._stdout is not None:
            self._stdout.__exit__(None, None, None)
            self._stdout = None
        return {
            "aws": self.calls.take(),
            "processed": list(self.recorder.processed) if self.recorder else [],
            "log_bytes": self.sink.bytes,
        }


WORKER_PROBE = "bench.instrument:BenchWorkerProbe"


def ordering_report(accepted: dict[str, list[str]], processed: list[Processed]) -> dict[str, int]:
    """Per-tenant order check.

    A violation is a processing start of an event while a *later-accepted* event of the same tenant
    has already started (a redelivery after a newer event counts too). Missing: accepted, never
    processed. Repeats: processed more than once (redeliveries).
    """
    index = {(tenant, event): i for tenant, events in accepted.items() for i, event in enumerate(events)}
    highest: dict[str, int] = defaultdict(lambda: -1)
    seen: Counter = Counter()
    violations = unknown = 0
    for entry in processed:
        position = index.get((entry.tenant_id, entry.event_id))
        if position is None:
            unknown += 1
            continue
        seen[(entry.tenant_id, entry.event_id)] += 1
        if position < highest[entry.tenant_id]:
            violations += 1
        highest[entry.tenant_id] = max(highest[entry.tenant_id], position)
    return {
        "violations": violations,
        "missing": sum(1 for key in index if key not in seen),
        "repeats": sum(count - 1 for count in seen.values()),
        "unknown": unknown,
    }


# ---------------------------------------------------------------------- the rig's own CPU
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(path: str) -> float | None:
    """User + system CPU seconds from a ``/proc/.../stat`` (a process or a thread; None: not Linux, gone)."""
    try:
        with open(path, encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14 and 15 of stat)


class ThreadCpu:
    """CPU seconds of this process's threads by kind, sampled from /proc every ``interval`` seconds.

    ``kind`` names a thread (poller, HTTP API, an emulator...). A thread that ends between two samples
    loses at most ``interval`` of its CPU; what no sample saw is reported as "unattributed".
    """

    def __init__(self, kind: Any, interval: float = 1.0) -> None:
        self._kind = kind
        self._interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-thread-cpu", daemon=True)
        self._process_started = 0.0

    def start(self) -> ThreadCpu:
        self._process_started = time.process_time()
        self._sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """CPU seconds by kind since ``start``."""
        self._stop.set()
        self._thread.join()
        self._sample()
        by_kind: Counter = Counter()
        for tid, (kind, cpu) in self._last.items():
            by_kind[kind] += cpu - self._first.get(tid, 0.0)
        total = time.process_time() - self._process_started
        by_kind["unattributed"] = max(0.0, total - sum(by_kind.values()))
        return dict(by_kind)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self, *, first: bool = False) -> None:
        for thread in threading.enumerate():
            tid = thread.native_id
            if tid is None:
                continue
            cpu = proc_cpu_seconds(f"/proc/self/task/{tid}/stat")
            if cpu is None:
                continue
            if first:
                self._first[tid] = cpu
            self._last[tid] = (self._kind(thread), cpu)


# ---------------------------------------------------------------------- log volume
class _CountingStream(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.bytes += len(text.encode())
        return len(text)


def _function_output(record: logging.LogRecord) -> bool:
    return not record.name.startswith("momentsync.local")


@contextmanager
def deployed_logging(logger: Any) -> Iterator[_CountingStream]:
    """The deployed log level (INFO) and EMF metrics on, written to a byte counter, not the terminal.

    What CloudWatch Logs would ingest from the functions (Lambda's own START/END/REPORT lines aside).
    The local stack's own lines (``momentsync.local.*``, e.g. the HTTP API stand-in's line per request)
    share the functions' logger but are not function output: deployed, the HTTP API's access log is a log
    group of its own (template.yaml, ~250 B per request), so they are left out of the count.
    """
    sink = _CountingStream()
    handler = logger.registered_handler
    old_stream, old_level = handler.stream, logger.log_level
    old_disabled = os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    handler.setStream(sink)
    handler.addFilter(_function_output)
    logger.setLevel("INFO")
    try:
        with redirect_stdout(sink):  # EMF metric blobs are printed to stdout
            yield sink
    finally:
        handler.removeFilter(_function_output)
        handler.setStream(old_stream)
        logger.setLevel(old_level)
        if old_disabled is not None:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = old_disabled


# The pacer before issue 18's window: 0.255 s between a tenant's Fiken request starts, one in flight,
# which is a window of 0.255 s holding one start.
FIXED_SPACING_SECONDS = 0.255


@contextmanager
def fixed_fiken_spacing() -> Iterator[None]:
    """Every Fiken pacer of this process paces as before issue 18 while inside (make bench's "before"
    column); the in-process stack's processor runs here. Restored on the way out."""
    from momentsync.connectors.fiken.pacing import RequestPacer

    real_slot = RequestPacer.slot
    changed: dict[int, tuple[Any, float, int]] = {}
    lock = threading.Lock()

    def slot(self: Any, key: str) -> Any:
        with lock:
            if id(self) not in changed:
                changed[id(self)] = (self, self.window, self.max_starts)
                self.window, self.max_starts = FIXED_SPACING_SECONDS, 1
        return real_slot(self, key)

    RequestPacer.slot = slot  # type: ignore[method-assign]
    try:
        yield
    finally:
        RequestPacer.slot = real_slot  # type: ignore[method-assign]
        for pacer, window, max_starts in changed.values():
            pacer.window, pacer.max_starts = window, max_starts
