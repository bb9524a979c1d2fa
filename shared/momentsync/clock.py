"""The one clock of the layer: timezone-aware UTC, so stored timestamps compare."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
