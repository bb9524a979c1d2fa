"""The transfer log in DynamoDB: one item per processed event, sorted by time, expiring by TTL.

Within ``batched()`` (the processor's invocation) entries are written together at its end, up to 25 per
BatchWriteItem, instead of one PutItem each: a batch of n records costs one round trip instead of n, the
same write units. Nothing conditional is lost by that (log entries are plain puts).

Lambda's timeout ends the process without a word: entries still in memory would be gone, and the
records' redelivery logs them as "unchanged" (the target already holds them), so what was pushed would
never show as synced. Given the invocation's time left, the batch writes what it holds
``DEADLINE_MARGIN_SECONDS`` before the deadline and every entry directly after that. That write must fit
the margin: from the switch on, writes go through a client of their own that gives up within it
(``deadline_write_config``; the others keep botocore's patient defaults), a failed deadline write is
tried again while the margin lasts, and a direct write that fails is kept for the next write, never
raised (the processor records a synced event unguarded). A process killed otherwise (out of memory)
loses its pending entries; their content is in its "event processed" lines.

A write that still fails at the batch's end (after botocore's retries) does not fail the invocation: that
would deliver every record again, dead-lettering or parking some a second time, for the sake of an audit
copy. The entries' content is already in CloudWatch (every event's "event processed" line); the loss is
reported as an ERROR line naming the events, the rule ``log_safely`` applies to a single entry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from momentsync.aws.items import plain_values
from momentsync.observability import logger
from momentsync.sync.transfer_log import TransferLogEntry

# Time a final write of a batch's entries needs (10 records: one BatchWriteItem, botocore's retries).
DEADLINE_MARGIN_SECONDS = 3.0
# A BatchWriteItem's unprocessed items are sent again after 0.05, 0.1, 0.2, 0.4 s (0.75 s in all).
UNPROCESSED_ATTEMPTS = 5
UNPROCESSED_PAUSE_SECONDS = 0.05
# Pause before the deadline write is tried again.
DEADLINE_RETRY_PAUSE_SECONDS = 0.2


class UnprocessedEntries(RuntimeError):
    """DynamoDB left entries unprocessed however often they were sent (a throttled table)."""


class _PendingEntries:
    """Entries of one invocation not written yet; its tenant groups append from their own threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # One write at a time: a read's flush that finds nothing held must wait for the entries another
        # thread (the deadline timer, another tenant's read) has taken and is still writing.
        self.writing = threading.Lock()
        self.items: list[dict[str, Any]] = []
        self.direct = False  # near the deadline: every entry is written when it is recorded
        self.ended = threading.Event()  # the batch's end came: the deadline timer stops trying


class DynamoTransferLog:
    def __init__(self, table: Any, retention: timedelta, *, deadline_table: Any | None = None) -> None:
        self._table = table
        # The same table through a client whose calls end within the deadline margin: used from the
        # switch to direct writes on (the deadline write, direct puts, the end's write after the switch).
        self._deadline_table = deadline_table if deadline_table is not None else table
        self._retention = retention
        # The invocation's pending entries, this log's own (another log's batch never writes to this
        # table); a copy of the context reaches the group threads: the same object.
        self._pending: ContextVar[_PendingEntries | None] = ContextVar("transfer_log_pending", default=None)

    def record(self, entry: TransferLogEntry) -> None:
        item = {k: v for k, v in entry.model_dump(mode="json").items() if v is not None}
        # Sort key: time first so a tenant's log reads in order; the event id keeps keys unique.
        item["logged_at"] = f"{entry.logged_at.isoformat()}#{entry.event_id}"
        item["expires_at"] = int((entry.logged_at + self._retention).timestamp())
        pending = self._pending.get()
        if pending is None:
            self._table.put_item(Item=item)
            return
        with pending.lock:
            if not pending.direct:
                pending.items.append(item)
                return
        # Near the deadline. The processor records a synced event unguarded (it only appended until
        # now): a failed write must not fail the event after its push, so the entry is kept, for the
        # next direct write or the batch's end, like the entries a failed deadline write kept.
        try:
            self._deadline_table.put_item(Item=item)
        except Exception as exc:  # noqa: BLE001 - the batch's outcome must not depend on its audit copy
            with pending.lock:
                pending.items.append(item)
            logger.warning(
                "could not write the transfer log before the deadline",
                extra={"error_type": type(exc).__name__, "event_id": entry.event_id},
            )
            return
        if pending.items:  # kept by a failed write: the end may never come
            self._write_before_deadline(pending)

    @contextmanager
    def batched(self, seconds_left: Callable[[], float] | None = None) -> Iterator[None]:
        """Entries recorded within are written at its end (also when it ends by an exception); a write
        that fails there is reported (ERROR, with the events it lost), never raised: see the module doc.

        ``seconds_left`` (the invocation's time left): ``DEADLINE_MARGIN_SECONDS`` before the deadline
        the entries held are written, and every later one as it is recorded."""
        pending = _PendingEntries()
        timer = None
        if seconds_left is not None:
            wait = self._until_deadline_write(seconds_left)
            # A failed deadline write is tried again while the time left allows one more (the end, with
            # its own try, may never come: what the write holds would die with the process).
            retry_until = time.monotonic() + wait + DEADLINE_MARGIN_SECONDS - DEADLINE_RETRY_PAUSE_SECONDS * 2
            timer = threading.Timer(wait, self._go_direct, (pending, retry_until))
            timer.daemon = True
            timer.start()
        token = self._pending.set(pending)
        try:
            yield
        finally:
            if timer is not None:
                pending.ended.set()
                timer.cancel()
                timer.join()
            try:
                self._write(pending)
            except Exception as exc:  # noqa: BLE001 - the batch's outcome must not depend on its audit copy
                with pending.lock:
                    lost = [(item["tenant_id"], item["event_id"], item["outcome"]) for item in pending.items]
                logger.error(
                    "could not write the transfer log",
                    extra={"error_type": type(exc).__name__, "entries_lost": len(lost), "events": lost[:50]},
                )
            finally:
                self._pending.reset(token)

    @staticmethod
    def _until_deadline_write(seconds_left: Callable[[], float]) -> float:
        """Seconds until the deadline write: 0 for a time left within the margin (or unreadable: no
        reason to fail the batch over it, nor to risk its entries), at most what a timer can wait."""
        try:
            left = float(seconds_left())
        except Exception as exc:  # noqa: BLE001 - the batch's outcome must not depend on its audit copy
            logger.warning(
                "could not read the invocation's time left", extra={"error_type": type(exc).__name__}
            )
            return 0.0
        # max(0.0, nan) is 0.0; a Timer given more than TIMEOUT_MAX dies of an OverflowError unseen.
        return min(max(0.0, left - DEADLINE_MARGIN_SECONDS), threading.TIMEOUT_MAX)

    def _go_direct(self, pending: _PendingEntries, retry_until: float) -> None:
        """The deadline is near: what is held is written now, what comes later when it is recorded."""
        with pending.lock:
            pending.direct = True
        while not self._write_before_deadline(pending):
            if pending.ended.wait(DEADLINE_RETRY_PAUSE_SECONDS) or time.monotonic() > retry_until:
                return

    def _write_before_deadline(self, pending: _PendingEntries) -> bool:
        """Writes what is held; False (and a warning) when the write failed."""
        try:
            self._write(pending)
            return True
        except Exception as exc:  # noqa: BLE001 - a timer thread has nobody to raise to, a record no reason
            # Kept: the next entry's write or the batch's end (if it comes) tries again, and the end
            # reports what it still cannot write.
            logger.warning(
                "could not write the transfer log before the deadline",
                extra={"error_type": type(exc).__name__},
            )
            return False

    def flush(self) -> None:
        """Writes the entries pending in this invocation now (before reading the log back)."""
        pending = self._pending.get()
        if pending is not None:
            self._write(pending)

    def _write(self, pending: _PendingEntries) -> None:
        with pending.writing:
            with pending.lock:
                items, pending.items = pending.items, []
            if not items:
                return
            # The last of each key (DynamoDB refuses a request that puts one key twice).
            unwritten = list({(item["tenant_id"], item["logged_at"]): item for item in items}.values())
            try:
                self._put_all(self._deadline_table if pending.direct else self._table, unwritten)
            except Exception:
                # What is still unwritten is kept for the next write (and named if the batch's end
                # cannot write it either): not what an earlier request of this write did store.
                with pending.lock:
                    pending.items[:0] = unwritten
                raise

    @staticmethod
    def _put_all(table: Any, unwritten: list[dict[str, Any]]) -> None:
        """Writes the items, 25 per BatchWriteItem, and takes each off ``unwritten`` once stored. What
        DynamoDB leaves unprocessed is sent again after a pause, a few times, then given up (raised).
        Not boto3's batch writer: it sends unprocessed items again at once and for ever, so a
        throttled table kept the batch's end from coming until Lambda's timeout ended it, and the
        whole batch was delivered again."""
        client, name = table.meta.client, table.name
        while unwritten:
            chunk = len(unwritten[:25])
            requests = [{"PutRequest": {"Item": item}} for item in unwritten[:chunk]]
            for attempt in range(UNPROCESSED_ATTEMPTS):
                if attempt:
                    time.sleep(UNPROCESSED_PAUSE_SECONDS * 2 ** (attempt - 1))
                answer = client.batch_write_item(RequestItems={name: requests})
                requests = answer.get("UnprocessedItems", {}).get(name, [])
                if not requests:
                    break
            else:
                unwritten[:chunk] = [request["PutRequest"]["Item"] for request in requests]
                raise UnprocessedEntries(
                    f"{len(requests)} entries unprocessed after {UNPROCESSED_ATTEMPTS} tries"
                )
            del unwritten[:chunk]

    def last_logged_at(self, tenant_id: str) -> datetime | None:
        """When the tenant's newest entry was logged (the sort key starts with it): one small read."""
        self.flush()
        page = self._table.query(
            KeyConditionExpression=Key("tenant_id").eq(tenant_id), ScanIndexForward=False, Limit=1
        )
        items = page.get("Items", [])
        return datetime.fromisoformat(items[0]["logged_at"].split("#", 1)[0]) if items else None

    def query(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        entity_type: str | None = None,
        outcome: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        newest_first: bool = True,
        page_size: int | None = None,
        max_scanned: int | None = None,
    ) -> list[TransferLogEntry]:
        """Entries matching the filters; ``page_size`` bounds each read (DynamoDB applies it before the
        filters) and ``max_scanned`` the entries read in all, matching or not (a cheap check in a flood)."""
        self.flush()  # this invocation's own entries first (the processor's not_found burst check)
        condition = Key("tenant_id").eq(tenant_id)
        if since is not None:
            condition = condition & Key("logged_at").gte(since.isoformat())
        kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": not newest_first}
        filters = []
        if entity_type:
            filters.append(Attr("entity_type").eq(entity_type))
        if outcome:
            filters.append(Attr("outcome").eq(outcome))
        if event_id:
            filters.append(Attr("event_id").eq(event_id))
        if filters:
            expression = filters[0]
            for extra in filters[1:]:
                expression = expression & extra
            kwargs["FilterExpression"] = expression
        if page_size:
            kwargs["Limit"] = page_size
        entries: list[TransferLogEntry] = []
        scanned = 0
        while len(entries) < limit and (max_scanned is None or scanned < max_scanned):
            page = self._table.query(**kwargs)
            scanned += page.get("ScannedCount", len(page.get("Items", [])))
            for item in page.get("Items", []):
                item = plain_values(item)
                item["logged_at"] = item["logged_at"].split("#", 1)[0]
                entries.append(TransferLogEntry.model_validate(item))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return entries[:limit]
