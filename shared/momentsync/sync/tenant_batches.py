"""One FIFO batch, its tenants overlapped: each message group in order on its own thread.

Why: the processor's time is mostly waiting for Fiken's pacing (one request in flight per tenant, 0.255 s
between starts), and Lambda bills that wait. A batch holds up to 10 records and may hold several message
groups (tenants; docs/reference/aws.md §1.3, §2); run one after another, a batch costs the *sum* of its
tenants' waits, overlapped only the longest one.

What is kept from Powertools' ``SqsFifoPartialProcessor(skip_group_on_error=True)``: records of one group
run strictly in queue order, one at a time; after a failed record the group's later records are failed
unprocessed (``SQSFifoMessageGroupCircuitBreakerError``), other groups go on; the answer is the partial
batch response. Never raised when every record failed (see ``raise_on_entire_batch_failure`` below).

Why not Powertools' own FIFO processor on threads: it keeps the record being processed in one instance
attribute (``_current_group_id``) read back by ``failure_handler``, so two threads would mark each other's
group as failed. Here the group is a local of the thread that runs it.

``max_workers=1`` runs the groups one after another on the invoking thread (the old behaviour, kept for
`make bench`'s side-by-side figures and as an off switch, ``PROCESSOR_TENANT_CONCURRENCY=1``).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.exceptions import SQSFifoMessageGroupCircuitBreakerError

# SQS FIFO batches hold at most 10 records (docs/reference/aws.md §2), so never more than 10 groups.
MAX_GROUPS_PER_BATCH = 10

_SKIPPED = (
    SQSFifoMessageGroupCircuitBreakerError,
    SQSFifoMessageGroupCircuitBreakerError("A previous record from this message group failed processing"),
    None,
)


def group_of(record: dict[str, Any]) -> str | None:
    group = record.get("attributes", {}).get("MessageGroupId")
    return group if isinstance(group, str) else None


def groups_in_order(records: list[dict[str, Any]]) -> list[list[tuple[int, dict[str, Any]]]]:
    """The batch split by message group: (position in the batch, record), each group in queue order,
    groups by first appearance."""
    groups: dict[str | None, list[tuple[int, dict[str, Any]]]] = {}
    for position, record in enumerate(records):
        groups.setdefault(group_of(record), []).append((position, record))
    return list(groups.values())


class TenantGroupsProcessor(BatchProcessor):
    """Partial batch processing of an SQS FIFO batch, message groups overlapped (see the module docstring).

    ``group_scope``: entered around each group's run on the thread that runs it (the event processor's
    per-group tenant memo), so per-group state never leaks into another group.
    """

    def __init__(
        self,
        *,
        max_workers: int = MAX_GROUPS_PER_BATCH,
        group_scope: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> None:
        # Never raise when every record failed: Powertools' FIFO processor does (docs/reference/aws.md
        # §1.3), Lambda then counts a function error and throttles the whole event source, so one broken
        # tenant would slow every other tenant. The partial response with every id fails the same records.
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=False)
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._group_scope = group_scope
        # success_messages / fail_messages / exceptions are appended to from several threads.
        self._results_lock = threading.Lock()

    def process(self) -> list[tuple[Any, ...]]:
        groups = groups_in_order(self.records)
        workers = min(self.max_workers, len(groups))
        if workers <= 1:
            ran = [result for group in groups for result in self._run_group(group)]
        else:
            # A pool per invocation: its threads end with the batch, nothing outlives the invocation.
            # Each group runs in a copy of the invoking context (log keys, Powertools' context).
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tenant-group") as pool:
                futures = [pool.submit(contextvars.copy_context().run, self._run_group, g) for g in groups]
                ran = [result for future in futures for result in future.result()]
        # Callers expect one result per record, in the batch's order.
        return [result for _, result in sorted(ran, key=lambda pair: pair[0])]

    def _run_group(self, records: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, tuple[Any, ...]]]:
        results: list[tuple[int, tuple[Any, ...]]] = []
        failed = False
        with self._group_scope():
            for position, record in records:
                if failed:
                    data = self._to_batch_type(record, event_type=self.event_type, model=self.model)
                    results.append((position, self.failure_handler(record=data, exception=_SKIPPED)))
                    continue
                result = self._process_record(record)
                failed = result[0] == "fail"
                results.append((position, result))
        return results

    def success_handler(self, record: Any, result: Any) -> tuple[Any, ...]:
        with self._results_lock:
            return super().success_handler(record, result)

    def failure_handler(self, record: Any, exception: Any) -> tuple[Any, ...]:
        with self._results_lock:
            return super().failure_handler(record, exception)
