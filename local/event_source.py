"""A local stand-in for Lambda's SQS FIFO event source mapping.

What it reproduces: batches of up to ``batch_size`` records in queue order; at most one batch per
message group in flight, and while a failed record of a group waits for redelivery no later record
of that group is delivered (``local.aws.fifo_group_order``; moto's FIFO receive hides a group whose
messages are in flight, but its
ReceiveMessage is not atomic across threads: two concurrent receives can both see a group as free
and each take messages of it, which SQS FIFO never does, so the pollers receive one at a time);
``concurrency`` pollers like ScalingConfig.MaximumConcurrency; partial batch responses (records
not listed in ``batchItemFailures`` are deleted, listed ones reappear after the visibility
timeout); a handler exception fails the whole batch; redrive to the dead-letter queue after
``maxReceiveCount`` receives (done by SQS itself, i.e. moto, on receive).

One deliberate difference: failed records come back after a short ``visibility_timeout`` (seconds,
not ten times the function timeout). The deployed invariant that a batch never becomes visible while
it is being processed is kept by receiving with a long visibility (``IN_FLIGHT_VISIBILITY_SECONDS``,
longer than any local invocation) and, once the invocation is over, setting the failed records'
visibility to the short timeout. (An earlier heartbeat that kept extending a short visibility fell
behind on a busy machine: a 10,000-event chaos run saw a batch delivered to a second poller while the
first still processed it, and two credit notes made for one.)
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

log = logging.getLogger("momentsync.local.event_source")

# Longer than any local invocation, shorter than SQS's 12-hour cap: a batch never reappears mid-run.
IN_FLIGHT_VISIBILITY_SECONDS = 900


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One SQS message in the shape Lambda hands to the function."""
    attributes = dict(message.get("Attributes", {}))
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class FifoEventSourceMapping:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        handler: Callable[[dict[str, Any]], dict[str, Any] | None],
        *,
        region: str,
        batch_size: int = 10,
        concurrency: int = 4,
        idle_seconds: float = 0.05,
        visibility_timeout: int | None = None,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._handler = handler
        self._region = region
        self._batch_size = batch_size
        # Short polls plus a short idle pause: stopping (tests pause the mapping) takes milliseconds,
        # where a 1 s long poll would hold every pause for a second.
        self._idle_seconds = idle_seconds
        self._visibility_timeout = visibility_timeout
        # Without a short timeout to return failures with, the queue's own visibility applies throughout.
        self._in_flight_visibility = (
            {"VisibilityTimeout": IN_FLIGHT_VISIBILITY_SECONDS} if visibility_timeout else {}
        )
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._receive_lock = threading.Lock()
        self._busy = 0
        self.invocations = 0
        self.records_failed = 0
        self.handler_errors = 0
        self._concurrency = concurrency
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._poll, name=f"esm-poller-{i}", daemon=True)
            for i in range(self._concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stops polling after the batches in flight finish (like disabling the mapping)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        self._threads = []

    def reconfigure(self, *, concurrency: int | None = None, idle_seconds: float | None = None) -> None:
        """Changes the poller count or the pause after an empty receive; call while stopped."""
        if self._threads:
            raise RuntimeError("stop the mapping before reconfiguring it")
        if concurrency is not None:
            self._concurrency = concurrency
        if idle_seconds is not None:
            self._idle_seconds = idle_seconds

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._busy > 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                with self._receive_lock:
                    messages = self._sqs.receive_message(
                        QueueUrl=self._queue_url,
                        MaxNumberOfMessages=self._batch_size,
                        WaitTimeSeconds=0,
                        **self._in_flight_visibility,
                        AttributeNames=["All"],
                        MessageAttributeNames=["All"],
                    ).get("Messages", [])
            except Exception:  # noqa: BLE001 - keep polling, like the managed poller does
                if not self._stop.is_set():
                    log.exception("receive failed")
                    time.sleep(0.5)
                continue
            if not messages:
                self._stop.wait(self._idle_seconds)
                continue
            if messages:
                with self._lock:
                    self._busy += 1
                try:
                    self._invoke(messages)
                finally:
                    with self._lock:
                        self._busy -= 1

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [to_lambda_record(m, self._queue_arn, self._region) for m in messages]}
        with self._lock:
            self.invocations += 1
        try:
            response = self._handler(event) or {}
        except Exception:  # noqa: BLE001 - a function error: the whole batch returns after the timeout
            log.exception("processor invocation failed; batch will be retried")
            with self._lock:
                self.handler_errors += 1
            self._retry_later(messages)
            return
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        with self._lock:
            self.records_failed += len(failed)
        self._retry_later([m for m in messages if m["MessageId"] in failed])
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _retry_later(self, messages: list[dict[str, Any]]) -> None:
        """Failed records reappear after the (short) visibility timeout, not the in-flight one."""
        if not self._visibility_timeout:
            return
        for message in messages:
            with suppress(Exception):  # already gone (redriven): nothing to shorten
                self._sqs.change_message_visibility(
                    QueueUrl=self._queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._visibility_timeout,
                )
