"""Accepting one Moment webhook: the whole decision, as a plain function over ports.

Order of checks: size (cheap, before any read) -> tenant and secret (the same 404 for both, so
tenant ids cannot be enumerated) -> disabled (410) -> media type (415) -> JSON, the limits that keep
a body processable, and the schema (400) -> ignored types (202 ignored) -> enqueue (202 queued, or
503 when the queue refused: never a 2xx for an event we did not queue, so the sender may retry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from momentsync.envelope import QueueEnvelope
from momentsync.ingest.body_limits import BodyRejected, parse_json_body
from momentsync.moment.webhooks import WebhookPayloadError, parse_webhook
from momentsync.ports import EventQueue, TenantRepository
from momentsync.tenants import TENANT_ID_PATTERN
from momentsync.webhook_secret import verify_webhook_secret


@dataclass(frozen=True)
class WebhookRequest:
    tenant_id: str
    secret: str = field(repr=False)
    body: bytes
    content_type: str | None
    request_id: str
    received_at: datetime


@dataclass(frozen=True)
class WebhookOutcome:
    status_code: int
    body: dict[str, Any]
    # What happened, for metrics and logs: queued, ignored, or the rejection reason.
    outcome: str
    entity_type: str | None = None
    event_id: str | None = None


_TENANT_ID = re.compile(TENANT_ID_PATTERN)
# The queued envelope, as SQS and the parked-events table store it: SQS's classic message limit, well
# under DynamoDB's 400 KB item (the parked copy adds its key and reason).
MAX_ENVELOPE_BYTES = 256 * 1024

NOT_FOUND = WebhookOutcome(404, {"error": "not_found", "message": "Unknown webhook URL"}, "unknown_tenant")


def _is_json_media_type(content_type: str | None) -> bool:
    if content_type is None:
        # Moment's headers are undocumented: a body without a Content-Type is judged by parsing it.
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def accept_webhook(
    request: WebhookRequest,
    *,
    tenants: TenantRepository,
    queue: EventQueue,
    max_body_bytes: int,
) -> WebhookOutcome:
    if len(request.body) > max_body_bytes:
        return WebhookOutcome(
            413,
            {"error": "payload_too_large", "message": f"Body exceeds {max_body_bytes} bytes"},
            "too_large",
        )

    tenant = tenants.get(request.tenant_id) if _plausible_tenant_id(request.tenant_id) else None
    stored_hash = tenant.webhook_secret_hash if tenant else None
    if not verify_webhook_secret(request.tenant_id, request.secret, stored_hash) or tenant is None:
        return NOT_FOUND
    if not tenant.accepts_webhooks:
        return WebhookOutcome(410, {"error": "gone", "message": "This tenant is disabled"}, "tenant_disabled")

    if not _is_json_media_type(request.content_type):
        return WebhookOutcome(
            415,
            {"error": "unsupported_media_type", "message": "Send the webhook as application/json"},
            "unsupported_media_type",
        )
    try:
        body = parse_json_body(request.body, _charset(request.content_type))
    except BodyRejected as exc:
        if exc.field_path is None:
            return WebhookOutcome(400, {"error": "malformed_json", "message": exc.message}, "bad_json")
        return WebhookOutcome(
            400,
            {"error": "invalid_payload", "message": exc.message, "field": exc.field_path},
            "invalid_payload",
        )
    try:
        webhook = parse_webhook(body)
    except WebhookPayloadError as exc:
        return WebhookOutcome(
            400,
            {"error": "invalid_payload", "message": exc.message, "field": exc.field_path},
            "invalid_payload",
        )

    entity_type = webhook.entity_type
    if entity_type is None:  # offer, claim
        return WebhookOutcome(
            202,
            {"status": "ignored", "reason": f"{webhook.kind} webhooks are not synced"},
            "ignored",
            entity_type=webhook.kind,
        )

    envelope = QueueEnvelope(
        event_id=request.request_id,
        tenant_id=tenant.tenant_id,
        entity_type=entity_type,
        entity_id=webhook.entity_id,
        moment_event=webhook.event[:64],
        received_at=request.received_at,
        payload=body,
    )
    if len(envelope.to_message_body().encode()) > MAX_ENVELOPE_BYTES:
        # The envelope re-serialises the body: 1e15 (4 bytes) becomes 1000000000000000.0 (18), so a body
        # under the limit can make a message SQS refuses or a parked item DynamoDB refuses (400 KB).
        return WebhookOutcome(
            413,
            {
                "error": "payload_too_large",
                "message": f"The queued event would exceed {MAX_ENVELOPE_BYTES} bytes "
                "(numbers such as 1e15 are stored written out); send a smaller body",
            },
            "too_large",
            entity_type=webhook.kind,
        )
    try:
        queue.send(envelope)
    except Exception:  # noqa: BLE001 - any failure to enqueue must become a retryable 5xx
        return WebhookOutcome(
            503,
            {"error": "enqueue_failed", "message": "The event could not be queued; retry later"},
            "enqueue_failed",
            entity_type=webhook.kind,
            event_id=envelope.event_id,
        )
    return WebhookOutcome(
        202,
        {"status": "queued", "eventId": envelope.event_id},
        "queued",
        entity_type=webhook.kind,
        event_id=envelope.event_id,
    )


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip()
    return None


def _plausible_tenant_id(tenant_id: str) -> bool:
    # Avoids a DynamoDB read (and a key-size error) for junk; same 404 as an unknown tenant.
    return _TENANT_ID.fullmatch(tenant_id) is not None
