"""A burst of ``not_found`` for one tenant: Moment answering 404 for ids we never linked.

One such event is noise (a record created and deleted before we fetched it). Many in a short
window mean a wrong Moment company code, a key for another company, or someone sending made-up
ids to the tenant's webhook URL (which would then be worth rotating): the operator is told once,
when the count in the window reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from momentsync.envelope import QueueEnvelope
from momentsync.observability import logger
from momentsync.sync.transfer_log import Outcome, TransferLogEntry


class TransferLogReader(Protocol):
    def query(self, tenant_id: str, **kwargs: Any) -> list[TransferLogEntry]: ...


class NotFoundAlerts(Protocol):
    def not_found_burst(
        self, *, tenant_id: str, count: int, window_minutes: int, sample_ids: list[str]
    ) -> None: ...


class NotFoundBurstWatch:
    def __init__(
        self,
        transfer_log: TransferLogReader,
        alerts: NotFoundAlerts,
        *,
        threshold: int = 10,
        window: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._log = transfer_log
        self._alerts = alerts
        self._threshold = threshold
        self._window = window
        self._clock = clock

    def observe(self, envelope: QueueEnvelope) -> None:
        """Called after a ``not_found`` was logged; alerts when this one makes the window's count."""
        try:
            recent = self._log.query(
                envelope.tenant_id,
                since=self._clock() - self._window,
                outcome=Outcome.NOT_FOUND.value,
                limit=self._threshold + 1,
            )
            # Exactly at the threshold: one alert per burst, without a store of its own.
            if len(recent) != self._threshold:
                return
            self._alerts.not_found_burst(
                tenant_id=envelope.tenant_id,
                count=len(recent),
                window_minutes=int(self._window.total_seconds() // 60),
                sample_ids=[f"{e.entity_type} {e.entity_id}" for e in recent[:5]],
            )
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the event it observes
            logger.warning("not_found burst check failed", extra={"error_type": type(exc).__name__})
