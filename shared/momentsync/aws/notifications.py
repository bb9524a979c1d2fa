"""Telling people that something needs them.

Tenants: a record that failed for good, or a connection that needs them (re-authorise Fiken, buy
a module) goes by e-mail through **SES** to the tenant's ``notification_emails``. SES rather than SNS
because each tenant has its own recipients: SNS e-mail would need a subscription (and its
confirmation click) per address and a topic or filter policy per tenant; SES sends to any address
from one verified sender. One e-mail per incident: the processor's ``dedupe_key`` (record + reason,
or tenant + problem) is claimed with a conditional put in the notifications table, which lets the
same key through again only after the window (24 h) has passed. Without SES (no sender configured,
the local stack) notifications are logged only (``LogNotifier``).

Operators: every dead letter is published to the operator topic (the alarm topic), not only the
first one: the DLQ depth alarm fires on 0 -> 1 and stays quiet while the queue fills further.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr
from pydantic import ValidationError

from momentsync.envelope import QueueEnvelope
from momentsync.observability import logger
from momentsync.ports import DeadLetters, NotificationThrottle, OperatorAlerts
from momentsync.tenants import Tenant


class LogNotifier:
    """Writes the notification to the log only (the local stack; deployments without e-mail set up)."""

    def notify(self, tenant: Tenant, *, kind: str, subject: str, message: str, dedupe_key: str) -> None:
        logger.warning(
            "tenant notification",
            extra={
                "tenant_id": tenant.tenant_id,
                "kind": kind,
                "subject": subject,
                "notification": message,
                "dedupe_key": dedupe_key,
                "recipients": len(tenant.notification_emails),
            },
        )


class DynamoNotificationThrottle:
    """At most one notification per (tenant, dedupe key) per window, across concurrent invocations."""

    def __init__(
        self,
        table: Any,
        window: timedelta = timedelta(hours=24),
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._table = table
        self._window = window
        self._clock = clock

    @staticmethod
    def key(tenant_id: str, dedupe_key: str) -> str:
        # Hashed: a dedupe key carries the failure reason, which can be long.
        return f"notification#{tenant_id}#{hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]}"

    def claim(self, tenant_id: str, dedupe_key: str, *, kind: str) -> bool:
        """True for the first claim of the key in the window (the caller sends); False after."""
        now = self._clock()
        try:
            self._table.put_item(
                Item={
                    "pk": self.key(tenant_id, dedupe_key),
                    "tenant_id": tenant_id,
                    "kind": kind,
                    "sent_at": now.isoformat(),
                    # TTL removes the item eventually (within days); the condition below is what
                    # actually reopens the key once the window is over.
                    "expires_at": int((now + self._window).timestamp()),
                },
                ConditionExpression=Attr("pk").not_exists() | Attr("expires_at").lt(int(now.timestamp())),
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, tenant_id: str, dedupe_key: str) -> None:
        self._table.delete_item(Key={"pk": self.key(tenant_id, dedupe_key)})

    def held(self, tenant_id: str, dedupe_key: str) -> bool:
        """Whether a claim exists (a read: cheaper than releasing on every scheduled check)."""
        return "Item" in self._table.get_item(Key={"pk": self.key(tenant_id, dedupe_key)})


class SesNotifier:
    """E-mails the tenant's people through SES, once per incident; logs when there is no one to tell."""

    def __init__(
        self,
        ses: Any,
        sender: str,
        throttle: NotificationThrottle,
        *,
        fallback: LogNotifier | None = None,
    ) -> None:
        self._ses = ses
        self._sender = sender
        self._throttle = throttle
        self._fallback = fallback or LogNotifier()

    def notify(self, tenant: Tenant, *, kind: str, subject: str, message: str, dedupe_key: str) -> None:
        if not tenant.notification_emails:
            self._fallback.notify(tenant, kind=kind, subject=subject, message=message, dedupe_key=dedupe_key)
            return
        extra = {"tenant_id": tenant.tenant_id, "kind": kind, "dedupe_key": dedupe_key}
        # Never fail the event over a notification: the transfer log and the DLQ keep the facts.
        try:
            if not self._throttle.claim(tenant.tenant_id, dedupe_key, kind=kind):
                logger.info("tenant notification suppressed: sent already in this window", extra=extra)
                return
        except Exception as exc:  # noqa: BLE001
            logger.error(
                "notification throttle unavailable", extra={**extra, "error_type": type(exc).__name__}
            )
            return
        try:
            self._ses.send_email(
                Source=self._sender,
                Destination={"ToAddresses": list(tenant.notification_emails)},
                Message={
                    "Subject": {"Data": subject[:200], "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": _email_text(tenant, kind, message), "Charset": "UTF-8"}},
                },
            )
        except Exception as exc:  # noqa: BLE001
            logger.error("tenant notification not sent", extra={**extra, "error_type": type(exc).__name__})
            # Released so the next occurrence tries again; if that fails too, the window runs its course.
            with contextlib.suppress(Exception):
                self._throttle.release(tenant.tenant_id, dedupe_key)
            return
        logger.info("tenant notified", extra={**extra, "recipients": len(tenant.notification_emails)})


def _email_text(tenant: Tenant, kind: str, message: str) -> str:
    return (
        f"{message}\n\n"
        f"Company: {tenant.name} ({tenant.tenant_id})\n"
        f"Kind: {kind.replace('_', ' ')}\n\n"
        "Other records keep transferring. You get this e-mail once per problem per day.\n"
        "-- momentsync (Moment -> accounting)\n"
    )


def _not_found_text(tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]) -> str:
    return (
        f"Tenant {tenant_id}: Moment answered 404 for {count} records never linked within "
        f"{window_minutes} minutes (e.g. {', '.join(sample_ids)}). Check the tenant's Moment company code "
        f"and API key (`momentsync tenants show {tenant_id}`); if the ids are made up, rotate the webhook "
        f"URL (`momentsync tenants rotate-secret {tenant_id}`)."
    )


def _drift_text(counts: dict[str, int], samples: list[str]) -> str:
    lines = [f"The deep check found {sum(counts.values())} linked records missing or different in the books:"]
    lines += [f"  {tenant_id}: {count}" for tenant_id, count in sorted(counts.items())]
    lines += ["", "For example:", *(f"  {line}" for line in samples), ""]
    lines.append(
        "Nothing was re-created. See `momentsync status TENANT` and the transfer log (origin deep_check)."
    )
    return "\n".join(lines)


class LogOperatorAlerts:
    def drift_found(self, *, counts: dict[str, int], samples: list[str]) -> None:
        logger.warning("deep check found drift", extra={"tenants": counts})

    def dead_lettered(
        self, *, message_id: str, body: str, tenant_id: str, reason: str, error_class: str, receive_count: int
    ) -> None:
        logger.warning(
            "event dead-lettered",
            extra={
                "tenant_id": tenant_id,
                "dlq_message_id": message_id,
                "reason": reason,
                "error_class": error_class,
            },
        )

    def not_found_burst(
        self, *, tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]
    ) -> None:
        logger.warning(
            "not_found burst",
            extra={"tenant_id": tenant_id, "count": count, "window_minutes": window_minutes},
        )


class SnsOperatorAlerts:
    """One SNS message per dead letter on the operator topic (attribute ``kind=dead_letter``)."""

    def __init__(self, sns: Any, topic_arn: str, *, stage: str = "") -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._stage = stage

    def dead_lettered(
        self, *, message_id: str, body: str, tenant_id: str, reason: str, error_class: str, receive_count: int
    ) -> None:
        try:
            envelope: QueueEnvelope | None = QueueEnvelope.from_message_body(body)
        except ValidationError:
            envelope = None
        record = f"{envelope.entity_type} {envelope.entity_id}" if envelope else "an unreadable message"
        event = f"{envelope.event_id} (origin {envelope.origin})" if envelope else "-"
        stage = f" [{self._stage}]" if self._stage else ""
        lines = [
            f"Tenant: {tenant_id}",
            f"Record: {record}",
            f"Event: {event}",
            f"Error: {error_class}: {reason}",
            f"Deliveries: {receive_count}",
            f"Dead-letter message: {message_id}",
            "",
            f"Inspect:  momentsync dlq show {message_id}",
            f"Replay:   momentsync dlq replay --tenant {tenant_id} --execute   (after fixing the cause)",
        ]
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"momentsync{stage}: dead letter, {tenant_id}, {record}"[:100],
                Message="\n".join(lines),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": "dead_letter"},
                    "tenant_id": {"DataType": "String", "StringValue": tenant_id},
                },
            )
        except Exception as exc:  # noqa: BLE001 - the DLQ depth alarm still fires; never fail the event
            logger.error(
                "operator alert not published",
                extra={"tenant_id": tenant_id, "error_type": type(exc).__name__},
            )

    def drift_found(self, *, counts: dict[str, int], samples: list[str]) -> None:
        """One message per deep-check run, however many tenants drifted."""
        stage = f" [{self._stage}]" if self._stage else ""
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"momentsync{stage}: books differ from sync state, {len(counts)} tenants"[:100],
                Message=_drift_text(counts, samples),
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "deep_check_drift"}},
            )
        except Exception as exc:  # noqa: BLE001 - the drift is stored and shown by status either way
            logger.error("operator alert not published", extra={"error_type": type(exc).__name__})

    def not_found_burst(
        self, *, tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]
    ) -> None:
        stage = f" [{self._stage}]" if self._stage else ""
        try:
            self._sns.publish(
                TopicArn=self._topic_arn,
                Subject=f"momentsync{stage}: {count} unknown Moment ids, {tenant_id}"[:100],
                Message=_not_found_text(tenant_id, count, window_minutes, sample_ids),
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": "not_found_burst"},
                    "tenant_id": {"DataType": "String", "StringValue": tenant_id},
                },
            )
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the event
            logger.error(
                "operator alert not published",
                extra={"tenant_id": tenant_id, "error_type": type(exc).__name__},
            )


class AlertingDeadLetters:
    """The processor's DLQ port, announcing each dead letter once it is in the queue.

    A decorator rather than a processor change, so the records the processor never sees (bodies
    that do not parse, dead-lettered in ``sync.records``) are announced as well.
    """

    def __init__(self, dead_letters: DeadLetters, alerts: OperatorAlerts) -> None:
        self._dead_letters = dead_letters
        self._alerts = alerts

    def send(self, **kwargs: Any) -> str:
        message_id: str = self._dead_letters.send(**kwargs)
        self._alerts.dead_lettered(
            message_id=message_id,
            body=kwargs["body"],
            tenant_id=kwargs["tenant_id"],
            reason=kwargs["reason"],
            error_class=kwargs["error_class"],
            receive_count=kwargs.get("receive_count", 1),
        )
        return message_id


class SnsHealthAlerts:
    """A tenant's failing health check, as one message on the operator topic (none without a topic)."""

    def __init__(self, sns: Any | None, topic_arn: str, *, stage: str = "") -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._stage = stage

    def tenant_unhealthy(self, *, tenant_id: str, check: str, detail: str, remedy: str) -> None:
        if self._sns is None or not self._topic_arn:
            return
        label = f" [{self._stage}]" if self._stage else ""
        self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=f"momentsync{label}: tenant {tenant_id}: {check}"[:100],
            Message=f"Tenant: {tenant_id}\nCheck: {check}\nWhat: {detail}\nRemedy: {remedy}\n",
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": "tenant_health"},
                "tenant_id": {"DataType": "String", "StringValue": tenant_id},
            },
        )
