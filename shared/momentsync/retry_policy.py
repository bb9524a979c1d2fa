"""One retry policy for the three HTTP clients (Moment, Fiken, SpareBank 1), on tenacity.

What every client shares, decided here once:
- backoff: exponential with full jitter (uniform in [0, min(cap, base * 2^(attempt-1))]), so tenants'
  retries spread apart; a ``Retry-After`` the server sent is honoured up to ``retry_after_cap``;
- a client's whole waiting stays within ``wait_budget`` when it has one (an event must finish within
  the processor's timeout; past it, SQS brings the event back later);
- never repeat an ambiguous write (``may_repeat``): a POST that may have been executed is not sent
  again; the caller looks it up by its natural key first;
- nothing a server echoes back may carry our key or token into an error or a log (``scrub``).

What stays in each client, because it is the server's own rule: which answers are worth repeating
(e.g. Fiken's 429 means "not executed", so even a POST may repeat it), and what a 401 means (Moment:
the key is invalid; Fiken: refresh the token once, for an attempt of its own; SpareBank 1: mint a new
token once). A client's attempt raises ``Retry`` for a repeatable failure, carrying the error to raise
when no attempt is left.
"""

from __future__ import annotations

import datetime
import email.utils
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

T = TypeVar("T")

# RFC 9110 §10.2.3: delay-seconds = 1*DIGIT (a fraction is read too: harmless).
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Past this many doublings every backoff is at its cap (2.0 ** 1024 overflows a float).
_MAX_DOUBLINGS = 64


class Retry(Exception):  # noqa: N818 - a signal to the policy, not an error anyone sees
    """One attempt failed in a way that may succeed when repeated.

    ``final``: what to raise when no attempt is left (it says why, and after how many attempts).
    ``retry_after``: seconds the server asked us to wait. ``free``: repeat at once, without counting
    it as an attempt (Fiken's repeat after refreshing a token is not a retry of a failure).
    """

    def __init__(
        self,
        what: str,
        *,
        final: Exception | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        free: bool = False,
    ) -> None:
        super().__init__(what)
        self.what = what
        self.final = final
        self.status = status
        self.retry_after = retry_after
        self.free = free


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    backoff_base: float
    backoff_cap: float
    # A server's Retry-After is honoured up to this many seconds (0: not at all).
    retry_after_cap: float = 0.0
    # Seconds of waiting in all, per call (None: only ``max_attempts`` limits it).
    wait_budget: float | None = None
    jitter: Callable[[], float] = field(default=random.random)  # in [0, 1]
    sleep: Callable[[float], None] = field(default=time.sleep)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        delay = self.jitter() * min(
            self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, _MAX_DOUBLINGS)
        )
        if retry_after is not None and self.retry_after_cap > 0:
            delay = max(delay, min(retry_after, self.retry_after_cap))
        return delay

    def run(
        self,
        attempt: Callable[[int], T],
        *,
        on_retry: Callable[[Retry, int, float], None] | None = None,
        over_budget: Callable[[Retry, float], Exception] | None = None,
    ) -> T:
        """``attempt(n)`` until it returns, raises something other than ``Retry``, or no attempt is
        left (then the last ``Retry``'s ``final``). ``on_retry(retry, n, delay)`` before each wait;
        ``over_budget(retry, total)`` builds the error when the next wait would exceed the budget."""
        free = 0
        waited = 0.0
        skip_sleep = False

        def last(state: tenacity.RetryCallState) -> Retry:
            failure = state.outcome.exception() if state.outcome else None
            assert isinstance(failure, Retry)
            return failure

        def wait(state: tenacity.RetryCallState) -> float:
            nonlocal free, skip_sleep
            retry = last(state)
            skip_sleep = retry.free
            if retry.free:
                free += 1
                return 0.0
            if state.attempt_number - free >= self.max_attempts:
                return 0.0  # no attempt left: no jitter drawn
            # The exponent counts every attempt sent, free repeats too (as the clients always did).
            return self.delay(state.attempt_number, retry.retry_after)

        def stop(state: tenacity.RetryCallState) -> bool:
            retry = last(state)
            if retry.free:
                return False
            if state.attempt_number - free >= self.max_attempts:
                return True
            return self.wait_budget is not None and waited + state.upcoming_sleep > self.wait_budget

        def give_up(state: tenacity.RetryCallState) -> None:
            retry = last(state)
            if state.attempt_number - free < self.max_attempts and over_budget is not None:
                raise over_budget(retry, waited + state.upcoming_sleep) from None
            raise (retry.final or retry) from None

        def before_sleep(state: tenacity.RetryCallState) -> None:
            nonlocal waited
            retry = last(state)
            if retry.free:
                return
            waited += state.upcoming_sleep
            if on_retry is not None:
                on_retry(retry, state.attempt_number, state.upcoming_sleep)

        def sleep(seconds: float) -> None:
            if not skip_sleep:  # a free repeat goes at once
                self.sleep(seconds)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Retry),
            wait=wait,
            stop=stop,
            sleep=sleep,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        for step in retrying:
            with step:
                return attempt(step.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity either returns, raises or calls give_up")


def may_repeat(
    method: str,
    *,
    repeatable: frozenset[str],
    sent: bool,
    status: int | None = None,
    not_executed: frozenset[int] = frozenset(),
) -> bool:
    """The never-repeat-an-ambiguous-write rule: a request may be sent again when its method is one the
    server applies the same however often it comes (``repeatable``: each client names its server's),
    when it never left us (``sent`` False: the connection failed), or when the server said it did not
    execute it (a status in ``not_executed``, e.g. 429). Anything else (a POST that timed out, or got a
    5xx) may have been executed: the caller looks it up by its natural key before writing again."""
    if method.upper() in repeatable or not sent:
        return True
    return status is not None and status in not_executed


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait, from ``Retry-After`` as seconds or as an HTTP date (RFC 9110 §10.2.3); None
    when absent or unreadable (then our own backoff applies)."""
    value = (value or "").strip()
    if not value:
        return None
    if _DELAY_SECONDS.fullmatch(value):
        # Digits only: Python's float() also reads "inf", "nan", "1e400", "-3", "1_000" and non-ASCII
        # digits, none of which a server means as a delay.
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # An HTTP-date is always GMT; its asctime form (which recipients must accept) names no zone.
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - now())


def scrub(text: str, secrets: Iterable[str], placeholder: str = "<token>") -> str:
    """``text`` with every secret we sent replaced: nothing a server echoes back may carry our key or
    token into an error or a log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, placeholder)
    return text
