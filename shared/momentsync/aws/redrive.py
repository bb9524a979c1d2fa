"""Every dead letter back to the event queue in one SQS StartMessageMoveTask (``momentsync dlq replay
--all``): an AWS adapter, so it lives in momentsync/aws/ (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from momentsync.ports import AuditLog


@dataclass(frozen=True)
class MoveTask:
    task_handle: str
    source_arn: str
    destination_arn: str
    approximate_messages: int


def replay_all_with_move_task(
    sqs: Any,
    *,
    dead_letter_queue_url: str,
    event_queue_url: str,
    audit: AuditLog,
    actor: str,
    rate: int | None = None,
) -> MoveTask:
    """Every dead letter back to the event queue via SQS StartMessageMoveTask (one task per queue).

    Messages keep their body (``origin`` stays as it was) and message group; SQS gives them new ids.
    """

    def attributes(url: str) -> dict[str, str]:
        found: dict[str, str] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "ApproximateNumberOfMessages"]
        )["Attributes"]
        return found

    source = attributes(dead_letter_queue_url)
    destination_arn = attributes(event_queue_url)["QueueArn"]
    kwargs: dict[str, Any] = {"SourceArn": source["QueueArn"], "DestinationArn": destination_arn}
    if rate is not None:
        kwargs["MaxNumberOfMessagesPerSecond"] = min(int(rate), 500)  # SQS's ceiling
    handle = sqs.start_message_move_task(**kwargs)["TaskHandle"]
    task = MoveTask(
        task_handle=handle,
        source_arn=source["QueueArn"],
        destination_arn=destination_arn,
        approximate_messages=int(source.get("ApproximateNumberOfMessages", 0)),
    )
    audit.record(
        actor=actor,
        action="dlq.replay_all",
        details={"task_handle": handle, "approximate_messages": task.approximate_messages, "rate": rate},
    )
    return task
