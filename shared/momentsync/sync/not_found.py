"""A burst of ``not_found`` for one tenant: Moment answering 404 for ids we never linked.

One such event is noise (a record created and deleted before we fetched it). Many in a short
window mean a wrong Moment company code, a key for another company, or someone sending made-up
ids to the tenant's webhook URL (which would then be worth rotating): the operator is told once,
when the count in the window reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from momentsync.envelope import QueueEnvelope
from momentsync.observability import logger
from momentsync.ports import NotFoundAlerts, TransferLogReader
from momentsync.sync.transfer_log import Outcome, TransferLogEntry


class NotFoundBurstWatch:
    def __init__(
        self,
        transfer_log: TransferLogReader,
        alerts: NotFoundAlerts,
        *,
        threshold: int = 10,
        window: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_scanned: int = 200,
    ) -> None:
        self._log = transfer_log
        self._max_scanned = max_scanned
        self._alerts = alerts
        self._threshold = threshold
        self._window = window
        self._clock = clock

    def observe(self, envelope: QueueEnvelope) -> None:
        """Called after a ``not_found`` was logged; alerts when this one makes the window reach the threshold.

        Sliding window, one alert per crossing: it alerts when the window ending at this event holds the
        threshold and the window ending at the tenant's previous ``not_found`` did not. (Alerting whenever
        the window held exactly the threshold re-alerted at every event of a steady trickle.) Reads the
        newest entries only, in small pages, at most ``max_scanned`` of them: a flood costs a few items
        per event, not a 1 MB page of the tenant's log.
        """
        try:
            recent = self._log.query(
                envelope.tenant_id,
                since=self._clock() - 2 * self._window,
                outcome=Outcome.NOT_FOUND.value,
                limit=self._threshold + 1,
                newest_first=True,
                page_size=self._threshold + 1,
                max_scanned=self._max_scanned,
            )
            if not recent:
                return
            now_count = _in_window(recent, self._window)
            before_count = _in_window(recent[1:], self._window)
            if now_count < self._threshold or before_count >= self._threshold:
                return
            self._alerts.not_found_burst(
                tenant_id=envelope.tenant_id,
                count=now_count,
                window_minutes=int(self._window.total_seconds() // 60),
                sample_ids=[f"{e.entity_type} {e.entity_id}" for e in recent[:5]],
            )
        except Exception as exc:  # noqa: BLE001 - an alert must never fail the event it observes
            logger.warning("not_found burst check failed", extra={"error_type": type(exc).__name__})


def _in_window(newest_first: list[TransferLogEntry], window: timedelta) -> int:
    """How many of the entries lie within ``window`` of the first (newest) one."""
    if not newest_first:
        return 0
    start = newest_first[0].logged_at - window
    return sum(1 for entry in newest_first if entry.logged_at > start)
