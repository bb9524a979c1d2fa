"""Moment's webhook payloads: thin notifications, ``{"event": "...", "<entity>": {"id": ..., ...}}``.

Only ``id`` is trusted and used (the processor re-fetches the record with our own API key); the
other fields are kept in the envelope for operators. ``event`` is a hint: only ``CREATE_NEW`` is
documented, so any value is accepted. ``offer`` and ``claim`` are valid Moment traffic we do not sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

SYNCED_KINDS = ("customer", "project", "invoice")
IGNORED_KINDS = ("offer", "claim")


class WebhookEntityRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: StrictInt = Field(gt=0)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True)
class ParsedWebhook:
    kind: str  # customer | project | invoice | offer | claim
    entity_id: int
    event: str

    @property
    def ignored(self) -> bool:
        return self.kind in IGNORED_KINDS


class WebhookPayloadError(ValueError):
    def __init__(self, message: str, field_path: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


def _first_error(exc: ValidationError, prefix: str = "") -> WebhookPayloadError:
    error = exc.errors()[0]
    path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
    return WebhookPayloadError(f"{path or 'body'}: {error['msg']}", path or None)


def parse_webhook(body: Any) -> ParsedWebhook:
    if not isinstance(body, dict):
        raise WebhookPayloadError("body must be a JSON object", None)
    try:
        envelope = WebhookBody.model_validate(body)
    except ValidationError as exc:
        raise _first_error(exc) from exc
    kinds = [key for key in (*SYNCED_KINDS, *IGNORED_KINDS) if key in body]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        raise WebhookPayloadError(
            f"expected exactly one of {', '.join(SYNCED_KINDS + IGNORED_KINDS)}; found {found}", None
        )
    kind = kinds[0]
    if not isinstance(body[kind], dict):
        raise WebhookPayloadError(f"{kind}: must be an object with an id", kind)
    try:
        ref = WebhookEntityRef.model_validate(body[kind])
    except ValidationError as exc:
        raise _first_error(exc, kind) from exc
    return ParsedWebhook(kind=kind, entity_id=ref.id, event=envelope.event)
