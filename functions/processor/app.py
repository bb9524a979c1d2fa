"""Processor Lambda: one FIFO batch in, partial batch response out. Logic: momentsync.sync."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.observability import logger, metrics, tracer
from momentsync.settings import processor_settings
from momentsync.sync.records import handle_record
from momentsync.wiring.processor import build_event_processor


class TenantFairFifoProcessor(SqsFifoPartialProcessor):
    """Skips only the failed tenant's later records, and never raises when every record failed.

    Powertools' FIFO processor raises BatchProcessingError when all records fail (docs/reference/aws.md §1.3),
    which Lambda counts as a function error and answers by throttling the whole event source: one broken
    tenant would slow every other tenant. A partial response with every id fails the same records without that
    side effect.
    """

    def __init__(self) -> None:
        super().__init__(skip_group_on_error=True)
        self.raise_on_entire_batch_failure = False


event_processor, dead_letters = build_event_processor(processor_settings())


def record_handler(record: SQSRecord) -> str:
    logger.append_keys(tenant_id=record.attributes.message_group_id, message_id=record.message_id)
    return handle_record(record, processor=event_processor, dead_letters=dead_letters).value


# log_event=False pinned: POWERTOOLS_LOGGER_LOG_EVENT=true would log message bodies.
@logger.inject_lambda_context(clear_state=True, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    # A batch processor holds one batch's successes, failures and skipped groups: one per invocation,
    # so invocations that share a process (the local stack's concurrent pollers) never mix batches.
    return process_partial_response(
        event=event, record_handler=record_handler, processor=TenantFairFifoProcessor(), context=context
    )
