"""Per-tenant request pacing for Fiken: one request in flight, at most 4 starts in any second.

Fiken allows a single concurrent request and "may slow" callers above 4 requests per second
(docs/reference/fiken.md §2). ``RequestPacer`` enforces both per key (a tenant's company), as a sliding
window: a request starts once the key's previous request has finished AND fewer than ``max_starts``
(4) of the key's starts lie within the last ``window`` seconds. An idle tenant's first four requests
therefore go at once; under a backlog the fifth waits for the first to leave the window, so the
sustained rate is ``max_starts / window`` (3.92/s at the default), as with the fixed 0.255 s spacing
this replaced, which made even an idle tenant's 3-call event wait 510 ms. Keys are independent.

One pacer is meant to be shared by every client in the process (``default_pacer``; the processor
builds one per cold start in ``wiring/tenant_sessions.py``); a pacer per client would let two
clients for the same tenant overlap.

**Its limit: one execution environment.** The window lives in this process's memory. Lambda may run
a tenant's next batch in another execution environment, whose pacer has no record of the starts the
previous batch made there: the new batch may then start 4 requests at once within a second of the
old batch's last ones (up to 4 over the rule per such hop), which Fiken "may slow" (the emulator
answers 429; the client backs off and retries). It can never put two requests in flight: SQS FIFO
gives a message group (tenant) one batch in flight at a time. The fixed spacing had the same hop,
smaller (one start over the rule per hop). docs/fiken-rate-limit.md weighs it, with measurements.

Whether Fiken's rule applies per user, per token or per *app* is undocumented (docs/reference/fiken.md
§8). With ``app_min_interval`` set (off by default), every request of every key also takes the one
app-wide slot: one request in flight and at least that spacing between starts for all tenants of the
Fiken app together, in this process; see docs/fiken-rate-limit.md.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Fiken's documented ceiling: 4 requests per second (docs/reference/fiken.md §2).
MAX_STARTS_PER_WINDOW = 4
# A little over Fiken's second: the window is kept on our clock, when the request leaves, but Fiken
# counts starts when they arrive. If the first of five requests reached Fiken later than the fifth
# (a slow connection set-up, a GC pause between the pacer and the socket), five starts 1.00 s apart
# here could be 0.97 s apart there; 20 ms absorbs that skew (the emulator's rule allows another 20 ms).
# Costs 2 % of the ceiling (3.92 instead of 4 requests per second), as the old 0.255 s spacing did.
DEFAULT_WINDOW_SECONDS = 1.02


@dataclass
class _KeyState:
    # The key's most recent starts (a deque bounded to max_starts: the oldest drops out), oldest first;
    # read and written only while ``in_flight`` is held, so the lock that serialises the requests also
    # guards the window.
    starts: deque[float]
    in_flight: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _AppState:
    in_flight: threading.Lock = field(default_factory=threading.Lock)
    last_start: float | None = None


class RequestPacer:
    """Hand-written (a deque per key, ~20 lines) rather than a rate-limiting library: neither
    ``pyrate-limiter`` nor ``limits`` is in the layer's lock, and neither holds a key's slot for the
    length of a request (one in flight), which is half of Fiken's rule; adding one would mean a new
    dependency in every Lambda and still this lock around it.
    """

    def __init__(
        self,
        window: float = DEFAULT_WINDOW_SECONDS,
        *,
        max_starts: int = MAX_STARTS_PER_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        app_min_interval: float | None = None,
    ) -> None:
        if window < 0:
            raise ValueError("window must not be negative")
        if max_starts < 1:
            raise ValueError("max_starts must be at least 1")
        if app_min_interval is not None and app_min_interval < 0:
            raise ValueError("app_min_interval must not be negative")
        self.window = window
        self.max_starts = max_starts
        self.app_min_interval = app_min_interval
        self._app = _AppState()
        self._clock = clock
        self._sleep = sleep
        self._states: dict[str, _KeyState] = {}
        self._states_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"RequestPacer(window={self.window!r}, max_starts={self.max_starts!r}, "
            f"app_min_interval={self.app_min_interval!r})"
        )

    @contextmanager
    def slot(self, key: str) -> Iterator[Callable[[], None]]:
        """Holds ``key``'s only request slot: wait for the previous request and for room in the
        window, then run.

        Yields ``leaving``: call it when the request's first bytes are written. The start is recorded
        when the slot is granted and moved to that moment, so time spent before the request leaves (a
        new connection after the server closed an idle one, the thread waiting for the CPU) cannot make
        Fiken see five starts closer together than the window. Not calling it keeps the grant time.

        With an app-wide limit, the app slot is taken inside the key's (always in that order, so
        two keys cannot deadlock) and spaced by ``app_min_interval``.
        """
        state = self._state(key)
        with state.in_flight:
            starts = state.starts
            if len(starts) >= self.max_starts:
                self._wait_until(starts[0] + self.window)
            if self.app_min_interval is None:
                starts.append(self._clock())
                yield lambda: self._leaving(starts, None)
                return
            with self._app.in_flight:
                if self._app.last_start is not None:
                    self._wait_until(self._app.last_start + self.app_min_interval)
                self._app.last_start = now = self._clock()
                starts.append(now)
                yield lambda: self._leaving(starts, self._app)

    def _leaving(self, starts: deque[float], app: _AppState | None) -> None:
        # Called while the slot (and its lock) is held: the newest start is this request's.
        now = self._clock()
        if starts and now > starts[-1]:
            starts[-1] = now
        if app is not None:
            app.last_start = now

    def _wait_until(self, moment: float) -> None:
        # A loop, not one sleep: a sleep may end a hair early on a coarse clock, and the window is exact.
        while (wait := moment - self._clock()) > 0:
            self._sleep(wait)

    def _state(self, key: str) -> _KeyState:
        with self._states_lock:
            state = self._states.get(key)
            if state is None:
                state = self._states[key] = _KeyState(deque(maxlen=self.max_starts))
            return state


_default_pacer: RequestPacer | None = None
_default_pacer_lock = threading.Lock()


def default_pacer() -> RequestPacer:
    """The process-wide pacer (4 starts per 1.02 s, one in flight) used when a client is given none."""
    global _default_pacer
    with _default_pacer_lock:
        if _default_pacer is None:
            _default_pacer = RequestPacer()
        return _default_pacer
