"""Moment's webhook payloads: thin notifications, ``{"event": "...", "<entity>": {"id": ..., ...}}``.

Only ``id`` is trusted and used (the processor re-fetches the record with our own API key); the
other fields are kept in the envelope for operators. ``event`` is a hint: only ``CREATE_NEW`` is
documented, so any value is accepted. ``offer`` and ``claim`` are valid Moment traffic we do not sync.
The payload models (and so every field name) live in ``momentsync.moment.models``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from momentsync.envelope import EntityType, is_entity_type
from momentsync.moment.models import (
    WEBHOOK_ENTITY_MODELS,
    WebhookClaimRef,
    WebhookCustomerRef,
    WebhookEnvelope,
    WebhookEvent,
    WebhookInvoiceRef,
    WebhookOfferRef,
    WebhookProjectRef,
    WebhookRef,
)

SYNCED_KINDS = ("customer", "project", "invoice")
IGNORED_KINDS = ("offer", "claim")

__all__ = [
    "IGNORED_KINDS",
    "SYNCED_KINDS",
    "ParsedWebhook",
    "WebhookClaimRef",
    "WebhookCustomerRef",
    "WebhookEvent",
    "WebhookInvoiceRef",
    "WebhookOfferRef",
    "WebhookPayloadError",
    "WebhookProjectRef",
    "parse_webhook",
]


@dataclass(frozen=True)
class ParsedWebhook:
    kind: str  # customer | project | invoice | offer | claim
    entity_id: int
    event: str
    ref: WebhookRef | None = None  # the validated entity object (numbers for operators), never trusted

    @property
    def ignored(self) -> bool:
        return self.kind in IGNORED_KINDS

    @property
    def entity_type(self) -> EntityType | None:
        """``customer`` / ``project`` / ``invoice``; ``None`` for traffic we ignore."""
        return self.kind if is_entity_type(self.kind) else None


class WebhookPayloadError(ValueError):
    """A body that is not a Moment webhook; ``field_path`` is dotted (``invoice.id``) or ``None``."""

    def __init__(self, message: str, field_path: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


def _first_error(exc: ValidationError, prefix: str = "") -> WebhookPayloadError:
    error = exc.errors(include_url=False)[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
    return WebhookPayloadError(f"{path or 'body'}: {error['msg']}", path or None)


def parse_webhook(body: Any) -> ParsedWebhook:
    """Validate a webhook body and say what it is about; raises ``WebhookPayloadError``."""
    if not isinstance(body, dict):
        raise WebhookPayloadError("body must be a JSON object", None)
    try:
        envelope = WebhookEnvelope.model_validate(body)
    except ValidationError as exc:
        raise _first_error(exc) from exc
    kinds = [key for key in WEBHOOK_ENTITY_MODELS if key in body]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise WebhookPayloadError(
            f"expected exactly one of {', '.join(WEBHOOK_ENTITY_MODELS)}; found {found}", None
        )
    kind = kinds[0]
    if not isinstance(body[kind], dict):
        raise WebhookPayloadError(f"{kind}: must be an object with an id", kind)
    try:
        ref = WEBHOOK_ENTITY_MODELS[kind].model_validate(body[kind])
    except ValidationError as exc:
        raise _first_error(exc, kind) from exc
    return ParsedWebhook(kind=kind, entity_id=ref.id, event=envelope.event, ref=ref)
