"""Fiken's request rules (spec intro "Concurrent requests / rate limiting", docs/reference/fiken.md §2), per
token.

- **One request in flight**: a request arriving while another with the same access token is still
  being answered is refused (429) at once.
- **At most 4 starts per second**: a start is refused when the 4th-previous *accepted* start of that
  token was less than ``1.0 - tolerance`` seconds ago. The tolerance (default 20 ms) lets a client
  pacing at exactly 250 ms pass despite timer jitter, while anything faster is refused.

Refused requests count in ``rejected`` and are not accepted starts. Thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateRule:
    def __init__(
        self,
        *,
        enabled: bool = True,
        max_starts_per_second: int = 4,
        tolerance: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.max_starts = max_starts_per_second
        self.tolerance = tolerance
        # Settable: the emulator's tests drive the rule on a manual clock, not on the loaded machine's.
        self.clock = clock
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}
        self.rejected = 0
        self.rejected_by_reason: dict[str, int] = {"concurrent": 0, "rate": 0}

    def try_start(self, key: str) -> str | None:
        """``None`` if the request may start (then call ``finish``), else why it is refused."""
        if not self.enabled:
            return None
        with self._lock:
            now = self.clock()
            if self._in_flight.get(key, 0) > 0:
                return self._refuse("concurrent")
            starts = self._starts.setdefault(key, deque(maxlen=self.max_starts))
            if len(starts) == self.max_starts and now - starts[0] < 1.0 - self.tolerance:
                return self._refuse("rate")
            starts.append(now)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return None

    def finish(self, key: str) -> None:
        with self._lock:
            remaining = self._in_flight.get(key, 0) - 1
            if remaining > 0:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._in_flight.clear()
            self._starts.clear()
            self.rejected = 0
            self.rejected_by_reason = {"concurrent": 0, "rate": 0}

    def _refuse(self, reason: str) -> str:
        self.rejected += 1
        self.rejected_by_reason[reason] += 1
        return reason
