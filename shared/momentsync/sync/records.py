"""From an SQS record to the processor: parse the envelope, or dead-letter what cannot be parsed.

A message that cannot be parsed will never parse, so it goes to the DLQ at once with the reason
instead of being retried until maxReceiveCount.
"""

from __future__ import annotations

import time

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from momentsync.envelope import QueueEnvelope
from momentsync.errors import TransientError
from momentsync.ports import DeadLetters
from momentsync.sync.failures import safe_message
from momentsync.sync.processor import EventProcessor
from momentsync.sync.transfer_log import Outcome


def handle_record(record: SQSRecord, *, processor: EventProcessor, dead_letters: DeadLetters) -> Outcome:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        envelope = QueueEnvelope.from_message_body(record.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        dead_letters.send(
            body=record.body,
            tenant_id=record.attributes.message_group_id or "unknown-tenant",
            reason=f"unreadable queue message: {where}: {first['msg']}",
            error_class="UnparseableMessage",
            receive_count=receive_count,
        )
        return Outcome.FAILED
    try:
        return processor.process(envelope, receive_count=receive_count)
    except TransientError:
        raise  # recorded by the processor; SQS delivers it again
    except Exception as exc:
        # Outside the use case (a store the processor itself needs, the DLQ send): retried by SQS,
        # and on the last allowed delivery dead-lettered here with the reason, never silently redriven.
        reason = safe_message(exc)
        started = time.monotonic()
        processor.log_safely(envelope, Outcome.RETRYING, started, receive_count, reason=reason)
        if receive_count < processor.max_receive_count:
            raise
        dead_letters.send(
            body=record.body,
            tenant_id=envelope.tenant_id,
            reason=f"gave up after {receive_count} deliveries: {reason}",
            error_class=type(exc).__name__,
            entity_type=envelope.entity_type,
            event_id=envelope.event_id,
            receive_count=receive_count,
        )
        return Outcome.FAILED
