"""Processor Lambda: one FIFO batch in, partial batch response out. Logic: momentsync.sync."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.observability import logger, metrics, tracer
from momentsync.settings import processor_settings
from momentsync.sync.records import handle_record
from momentsync.sync.tenant_batches import TenantGroupsProcessor
from momentsync.wiring.processor import build_event_processor

settings = processor_settings()
event_processor, dead_letters = build_event_processor(settings)
# Tenants of one batch at once, each in order; 1 = one after another (make bench's "before").
tenant_concurrency = settings.processor_tenant_concurrency


def record_handler(record: SQSRecord) -> str:
    # Thread-safe keys: the batch's tenants run on their own threads (sync/tenant_batches.py).
    logger.thread_safe_append_keys(tenant_id=record.attributes.message_group_id, message_id=record.message_id)
    return handle_record(record, processor=event_processor, dead_letters=dead_letters).value


# log_event=False pinned: POWERTOOLS_LOGGER_LOG_EVENT=true would log message bodies.
@logger.inject_lambda_context(clear_state=True, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # A batch processor holds one batch's successes, failures and skipped groups: one per invocation,
    # so invocations that share a process (the local stack's concurrent pollers) never mix batches.
    processor = TenantGroupsProcessor(max_workers=tenant_concurrency, group_scope=event_processor.tenant_memo)
    # The batch's transfer log entries in one write at its end, or before Lambda's timeout ends it.
    with event_processor.batch_scope(lambda: context.get_remaining_time_in_millis() / 1000):
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
