"""Attack on issue 17's one retry policy: odd ``Retry-After`` values and odd attempt counts, through the
clients that honour the header (SpareBank 1, Moment) against respx.

RFC 9110 §10.2.3: ``Retry-After = HTTP-date / delay-seconds``, ``delay-seconds = 1*DIGIT``, and a
recipient must accept all three HTTP-date forms (IMF-fixdate, RFC 850, asctime).
"""

from __future__ import annotations

import random
import time

import httpx
import pytest
import respx

from momentsync.connectors.sparebank1.client import SpareBank1Client
from momentsync.moment.client import MomentClient, MomentUnavailable
from momentsync.retry_policy import Retry, RetryPolicy, retry_after_seconds

API = "https://regnskap.example.test"
MOMENT = "https://moment.test/api/1.0"
NOW = 1_800_000_000.0


class Tokens:
    def access_token(self) -> str:
        return "tok-1"

    def mint_again(self, rejected: str) -> str:
        return "tok-2"


class NoJitter(random.Random):
    def random(self) -> float:
        return 0.0


def asctime_in(seconds: float) -> str:
    return time.asctime(time.gmtime(time.time() + seconds))  # "Sun Nov  6 08:49:37 1994"


@pytest.mark.parametrize(
    "value",
    [
        time.asctime(time.gmtime(NOW + 30)),  # asctime
        "Wednesday, 15-Jan-27 08:00:30 GMT",  # RFC 850
        "Fri, 15 Jan 2027 08:00:30 GMT",  # IMF-fixdate
    ],
)
def test_every_http_date_form_is_read(value):
    assert retry_after_seconds(value, now=lambda: NOW) == 30.0


@pytest.mark.parametrize("value", ["inf", "Infinity", "nan", "1e400", "-3", "1_000", "١٢", "+5", "0x10"])
def test_what_is_not_delay_seconds_is_unreadable_so_our_own_backoff_applies(value):
    assert retry_after_seconds(value) is None


@respx.mock
def test_sparebank1_honours_a_retry_after_in_the_asctime_form():
    route = respx.get(f"{API}/api/biz/vattypes").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": asctime_in(6)}),
            httpx.Response(200, json=[]),
        ]
    )
    sleeps: list[float] = []
    client = SpareBank1Client(
        base_url=API, company_key="c-1", tokens=Tokens(), sleep=sleeps.append, rng=NoJitter()
    )
    assert client.list("vattypes") == []
    assert route.call_count == 2
    assert len(sleeps) == 1 and 4.0 <= sleeps[0] <= 6.0, sleeps  # not our own 0-second backoff


def test_moment_does_not_hammer_a_server_that_asked_for_an_hour_in_asctime():
    sleeps: list[float] = []
    with (
        respx.mock(base_url=f"{MOMENT}/companies/acme", assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=MOMENT, sleep=sleeps.append, jitter=lambda: 0.0) as client,
    ):
        route = mock.get("/customers/1").respond(429, headers={"Retry-After": asctime_in(3600)})
        with pytest.raises(MomentUnavailable, match="Retry-After"):
            client.get_customer(1)
    assert route.call_count == 1 and sleeps == []


def test_moment_treats_a_garbage_infinite_retry_after_as_unreadable():
    sleeps: list[float] = []
    with (
        respx.mock(base_url=f"{MOMENT}/companies/acme", assert_all_called=False) as mock,
        MomentClient("acme", "sk-key", base_url=MOMENT, sleep=sleeps.append, jitter=lambda: 0.0) as client,
    ):
        route = mock.get("/customers/1").respond(503, headers={"Retry-After": "inf"})
        with pytest.raises(MomentUnavailable) as raised:
            client.get_customer(1)
    assert "inf" not in str(raised.value)
    assert route.call_count == client.max_attempts and sleeps == [0.0] * (client.max_attempts - 1)


def test_a_policy_with_more_than_a_thousand_attempts_never_overflows_its_backoff():
    sleeps: list[float] = []
    policy = RetryPolicy(
        max_attempts=1100, backoff_base=0.5, backoff_cap=8.0, jitter=lambda: 1.0, sleep=sleeps.append
    )
    calls: list[int] = []

    def attempt(number: int) -> str:
        calls.append(number)
        if number < 1100:
            raise Retry("busy")
        return "ok"

    assert policy.run(attempt) == "ok"
    assert len(calls) == 1100 and sleeps[-1] == 8.0 and max(sleeps) == 8.0
