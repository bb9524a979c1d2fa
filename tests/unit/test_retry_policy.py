"""The one retry policy of the three HTTP clients (momentsync.retry_policy): backoff, Retry-After, the
wait budget, free repeats, the never-repeat-an-ambiguous-write rule and the scrubbing of secrets. Each
client's own 401/429 rules are tested with the client (tests/unit/{moment,fiken,sparebank1})."""

from __future__ import annotations

import pytest

from momentsync.retry_policy import Retry, RetryPolicy, may_repeat, retry_after_seconds, scrub


class Refused(Exception):
    pass


def policy(sleeps: list[float], **options) -> RetryPolicy:
    defaults = {"max_attempts": 4, "backoff_base": 0.5, "backoff_cap": 8.0, "jitter": lambda: 1.0}
    return RetryPolicy(**(defaults | options), sleep=sleeps.append)


def failing(times: int, *, result: str = "ok", **retry):
    calls: list[int] = []

    def attempt(number: int) -> str:
        calls.append(number)
        if len(calls) <= times:
            raise Retry(f"failure {len(calls)}", final=Refused(f"gave up after {number} attempts"), **retry)
        return result

    return attempt, calls


def test_a_repeatable_failure_is_retried_with_exponential_backoff_until_it_succeeds():
    sleeps: list[float] = []
    attempt, calls = failing(3)
    assert policy(sleeps).run(attempt) == "ok"
    assert calls == [1, 2, 3, 4]
    assert sleeps == [0.5, 1.0, 2.0]  # jitter 1.0: the ceiling itself


def test_full_jitter_draws_between_zero_and_the_capped_ceiling():
    draws = iter([0.0, 0.5, 1.0, 1.0, 1.0])
    sleeps: list[float] = []
    attempt, _ = failing(5)
    policy(sleeps, max_attempts=6, backoff_cap=3.0, jitter=lambda: next(draws)).run(attempt)
    assert sleeps == [0.0, 0.5, 2.0, 3.0, 3.0]


def test_when_no_attempt_is_left_the_last_failures_own_error_is_raised_and_no_jitter_is_drawn():
    draws = iter([1.0, 1.0])  # two waits between three attempts; a third draw would raise StopIteration
    sleeps: list[float] = []
    attempt, calls = failing(10)
    with pytest.raises(Refused, match="gave up after 3 attempts"):
        policy(sleeps, max_attempts=3, jitter=lambda: next(draws)).run(attempt)
    assert calls == [1, 2, 3] and len(sleeps) == 2


def test_any_other_error_is_raised_at_once():
    sleeps: list[float] = []

    def attempt(number: int) -> str:
        raise ValueError("a 400: repeating cannot help")

    with pytest.raises(ValueError):
        policy(sleeps).run(attempt)
    assert sleeps == []


def test_a_retry_after_is_honoured_up_to_its_cap():
    sleeps: list[float] = []
    attempt, _ = failing(2, retry_after=30.0)
    policy(sleeps, retry_after_cap=20.0, jitter=lambda: 0.0).run(attempt)
    assert sleeps == [20.0, 20.0]
    sleeps.clear()
    attempt, _ = failing(1, retry_after=30.0)
    policy(sleeps, jitter=lambda: 0.0).run(attempt)  # no cap: a client that ignores Retry-After
    assert sleeps == [0.0]


def test_waiting_past_the_budget_stops_with_the_clients_own_error():
    sleeps: list[float] = []
    attempt, calls = failing(10)

    def over_budget(retry: Retry, total: float) -> Exception:
        return Refused(f"{retry.what}; {total:.1f} s would exceed the budget")

    with pytest.raises(Refused, match=r"failure 3; 3.5 s would exceed"):
        policy(sleeps, max_attempts=10, wait_budget=3.0).run(attempt, over_budget=over_budget)
    assert sleeps == [0.5, 1.0] and calls == [1, 2, 3]


def test_a_free_repeat_goes_at_once_and_does_not_use_up_an_attempt():
    sleeps: list[float] = []
    outcomes = iter(["free", "retry", "retry", "retry", "ok"])
    retried: list[int] = []

    def attempt(number: int) -> str:
        outcome = next(outcomes)
        if outcome == "free":
            raise Retry("401: token refreshed", free=True)
        if outcome == "retry":
            raise Retry("429", final=Refused("rate limited"))
        return f"ok on attempt {number}"

    result = policy(sleeps).run(attempt, on_retry=lambda retry, number, delay: retried.append(number))
    # Four attempts allowed plus the free repeat; the exponent counts every request sent.
    assert result == "ok on attempt 5"
    assert retried == [2, 3, 4] and sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("method", "sent", "status", "expected"),
    [
        ("GET", True, 503, True),
        ("PUT", True, None, True),
        ("POST", False, None, True),  # the connection failed: nothing reached the server
        ("POST", True, None, False),  # a timeout after sending: it may have been executed
        ("POST", True, 503, False),
        ("POST", True, 429, True),  # the server said it did not execute it
    ],
)
def test_an_ambiguous_write_is_never_repeated(method, sent, status, expected):
    repeatable = frozenset({"GET", "PUT", "DELETE"})
    assert may_repeat(
        method, repeatable=repeatable, sent=sent, status=status, not_executed=frozenset({429})
    ) is (expected)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_scrub_removes_every_secret_sent():
    assert scrub("bad token tok-1 and tok-2", ["tok-1", "", "tok-2"]) == "bad token <token> and <token>"
    assert scrub("key sk-9 refused", ["sk-9"], "[REDACTED]") == "key [REDACTED] refused"
