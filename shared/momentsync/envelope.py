"""The queue message: our own versioned envelope around one Moment webhook.

Shared by the webhook Lambda (producer), the processor (consumer) and the operator tools (replay).
Bump ``SCHEMA_VERSION`` and keep reading the old one when a field changes meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = 1

EntityType = Literal["customer", "project", "invoice"]
ENTITY_TYPES: tuple[EntityType, ...] = ("customer", "project", "invoice")


def is_entity_type(value: str) -> TypeGuard[EntityType]:
    """True for the entity types we sync: a string checked here can go into an envelope."""
    return value in ENTITY_TYPES


class QueueEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, max_length=128)
    tenant_id: str = Field(min_length=1, max_length=64)
    entity_type: EntityType
    # At most 64 bits: a larger id is no Moment record and breaks DynamoDB numbers (38 digits).
    entity_id: int = Field(ge=0, le=2**63 - 1)
    moment_event: str = Field(max_length=64)
    received_at: datetime
    payload: dict[str, Any]
    # Set when an operator replays or resyncs: the event id this one re-sends, and why.
    replay_of: str | None = None
    origin: Literal["webhook", "replay", "resync", "resume", "reconcile", "backfill"] = "webhook"

    def to_message_body(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_message_body(cls, body: str) -> QueueEnvelope:
        return cls.model_validate_json(body)
