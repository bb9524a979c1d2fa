"""Per-tenant request pacing for Fiken.

Fiken allows a single concurrent request and may slow or ban callers above ~4 requests per second
(docs/reference/fiken.md §2). ``RequestPacer`` enforces both per key (a tenant or company): one request in
flight, and at least ``min_interval`` seconds between request *starts*. Keys are independent, so one tenant's
traffic never delays another's.

One pacer is meant to be shared by every client in the process (``default_pacer``); a pacer per client
would let two clients for the same tenant overlap.

Whether Fiken's rule applies per user, per token or per *app* is undocumented (docs/reference/fiken.md §8).
With
``app_min_interval`` set (off by default), every request of every key also takes the one app-wide
slot: one request in flight and that spacing for all tenants of the Fiken app together, in this
process. Across processes (Lambda concurrency) it holds only if the processor runs one at a time;
see docs/fiken-rate-limit.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# 4 starts per second would be 0.25 s; the extra 5 ms keeps five starts over 1.02 s apart on our clock,
# so a request that reaches Fiken a little late does not put five starts inside Fiken's second (a
# 0.25 s pacer saw one 429 in one of four benchmark runs). Costs 2 % of the ceiling.
DEFAULT_MIN_INTERVAL_SECONDS = 0.255


@dataclass
class _KeyState:
    in_flight: threading.Lock = field(default_factory=threading.Lock)
    last_start: float | None = None


class RequestPacer:
    def __init__(
        self,
        min_interval: float = DEFAULT_MIN_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        app_min_interval: float | None = None,
    ) -> None:
        if min_interval < 0 or (app_min_interval is not None and app_min_interval < 0):
            raise ValueError("min_interval must not be negative")
        self.min_interval = min_interval
        self.app_min_interval = app_min_interval
        self._app = _KeyState()
        self._clock = clock
        self._sleep = sleep
        self._states: dict[str, _KeyState] = {}
        self._states_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RequestPacer(min_interval={self.min_interval!r}, app_min_interval={self.app_min_interval!r})"

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Holds ``key``'s only request slot: wait for the previous request and the spacing, then run.

        With an app-wide limit, the app slot is taken inside the key's (always in that order, so
        two keys cannot deadlock) and spaced by ``app_min_interval``.
        """
        state = self._state(key)
        with state.in_flight:
            self._wait(state, self.min_interval)
            if self.app_min_interval is None:
                state.last_start = self._clock()
                yield
                return
            with self._app.in_flight:
                self._wait(self._app, self.app_min_interval)
                state.last_start = self._app.last_start = self._clock()
                yield

    def _wait(self, state: _KeyState, interval: float) -> None:
        if state.last_start is not None:
            wait = state.last_start + interval - self._clock()
            if wait > 0:
                self._sleep(wait)

    def _state(self, key: str) -> _KeyState:
        with self._states_lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = _KeyState()
            return state


_default_pacer: RequestPacer | None = None
_default_pacer_lock = threading.Lock()


def default_pacer() -> RequestPacer:
    """The process-wide pacer (``min_interval`` 0.255 s) used when a client is given none."""
    global _default_pacer
    with _default_pacer_lock:
        if _default_pacer is None:
            _default_pacer = RequestPacer()
        return _default_pacer
