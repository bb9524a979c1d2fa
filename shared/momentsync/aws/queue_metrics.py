"""The event queues' backlog for ``momentsync status``: SQS's message counts and CloudWatch's age of the
oldest message (an AWS adapter: issue 17 keeps them all in momentsync/aws/)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from momentsync.aws.dead_letter_queue import queue_depth
from momentsync.operations.status import Backlog


class CloudWatchQueueAge:
    """ApproximateAgeOfOldestMessage of a queue, the latest minute CloudWatch has (SQS reports it)."""

    def __init__(self, cloudwatch: Any, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._cloudwatch = cloudwatch
        self._clock = clock

    def oldest_message_age(self, queue_url: str) -> int | None:
        now = self._clock()
        datapoints = self._cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": queue_url.rstrip("/").rsplit("/", 1)[-1]}],
            StartTime=now - timedelta(minutes=15),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        ).get("Datapoints", [])
        if not datapoints:
            return None
        return int(max(datapoints, key=lambda d: d["Timestamp"])["Maximum"])


def queue_backlog(
    sqs: Any, *, event_queue_url: str, dead_letter_queue_url: str, queue_age: CloudWatchQueueAge | None
) -> Backlog:
    return Backlog(
        event_queue=queue_depth(sqs, event_queue_url),
        dead_letter_queue=queue_depth(sqs, dead_letter_queue_url),
        oldest_message_age_seconds=queue_age.oldest_message_age(event_queue_url) if queue_age else None,
    )
