"""Attack on issue 17's one retry policy through the Fiken and SpareBank 1 clients (respx): a 401, then
a 429, then a lost answer on a POST; garbage, past and huge Retry-After values; a lost answer on a PUT.
The rule under attack: a write that may have been executed is never sent again."""

from __future__ import annotations

import random

import httpx
import pytest
import respx

from momentsync.connectors.fiken.client import FikenAmbiguousWriteError, FikenClient
from momentsync.connectors.fiken.models import Contact
from momentsync.connectors.fiken.pacing import RequestPacer
from momentsync.connectors.sparebank1.client import SpareBank1AmbiguousWrite, SpareBank1Client
from tests.fakes.alerts import StaticTokens

FIKEN = "https://fiken.test/api/v2"
CONTACTS = f"{FIKEN}/companies/acme-as/contacts"
SB1 = "https://regnskap.example.test"


def fiken(tokens: StaticTokens, sleeps: list[float]) -> FikenClient:
    return FikenClient(
        company_slug="acme-as",
        token_provider=tokens,
        base_url=FIKEN,
        pacer=RequestPacer(0.0),
        sleep=sleeps.append,
        rng=random.Random(7),
        max_attempts=4,
    )


def sparebank1(sleeps: list[float]) -> SpareBank1Client:
    return SpareBank1Client(
        base_url=SB1, company_key="c-1", tokens=StaticTokens(), sleep=sleeps.append, rng=random.Random(7)
    )


@respx.mock
def test_fiken_post_401_then_429_then_a_lost_answer_is_sent_three_times_and_never_again():
    tokens, sleeps = StaticTokens(), []
    route = respx.post(CONTACTS).mock(
        side_effect=[
            httpx.Response(401),
            httpx.Response(429),
            httpx.ReadTimeout("answer lost"),
            httpx.Response(201, headers={"Location": f"{CONTACTS}/78"}),
        ]
    )
    with pytest.raises(FikenAmbiguousWriteError):
        fiken(tokens, sleeps).create_contact(Contact(name="Acme AS"))
    assert route.call_count == 3 and tokens.refreshes == 1 and len(sleeps) == 1
    sent = [call.request.headers["Authorization"] for call in route.calls]
    assert sent == ["Bearer token-1", "Bearer token-2", "Bearer token-2"]


@respx.mock
def test_fiken_post_401_then_429_then_created_creates_once():
    tokens, sleeps = StaticTokens(), []
    route = respx.post(CONTACTS).mock(
        side_effect=[
            httpx.Response(401),
            httpx.Response(429),
            httpx.Response(201, headers={"Location": f"{CONTACTS}/78"}),
        ]
    )
    assert fiken(tokens, sleeps).create_contact(Contact(name="Acme AS")) == 78
    assert route.call_count == 3


@respx.mock
@pytest.mark.parametrize("retry_after", ["-5", "soon", "Sun, 06 Nov 1994 08:49:37 GMT", "", "nan"])
def test_sparebank1_post_429_with_a_garbage_or_past_retry_after_waits_its_own_backoff(retry_after):
    sleeps: list[float] = []
    route = respx.post(f"{SB1}/api/biz/journalentries").mock(
        side_effect=[
            httpx.Response(401),
            httpx.Response(429, headers={"Retry-After": retry_after}),
            httpx.Response(200, json=[{"ID": 1}]),
        ]
    )
    answer = sparebank1(sleeps).action("POST", "journalentries", "book-journal-entries", body=[{}])
    assert answer == [{"ID": 1}] and route.call_count == 3
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.5  # the first backoff's ceiling, not the header


@respx.mock
def test_sparebank1_huge_retry_after_is_capped():
    sleeps: list[float] = []
    respx.get(f"{SB1}/api/biz/vattypes").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "9" * 400}), httpx.Response(200, json=[])]
    )
    assert sparebank1(sleeps).list("vattypes") == []
    assert sleeps == [8.0]


@respx.mock
def test_sparebank1_put_lost_answer_is_repeated_but_a_post_write_timeout_is_not():
    sleeps: list[float] = []
    put = respx.put(f"{SB1}/api/biz/customers/5").mock(
        side_effect=[httpx.ReadTimeout("answer lost"), httpx.Response(200, json={"ID": 5})]
    )
    assert sparebank1(sleeps).update("customers", 5, {"ID": 5}) == {"ID": 5}
    assert put.call_count == 2

    post = respx.post(f"{SB1}/api/biz/customers").mock(
        side_effect=[httpx.WriteTimeout("half sent"), httpx.Response(201, json={"ID": 6})]
    )
    with pytest.raises(SpareBank1AmbiguousWrite):
        sparebank1(sleeps).create("customers", {"Name": "Acme"})
    assert post.call_count == 1


@respx.mock
def test_sparebank1_post_answered_2xx_with_a_page_that_is_not_json_is_an_ambiguous_write():
    """Executed, but the record's id is unreadable: the caller must look it up by its natural key, not
    meet a bare JSONDecodeError (an unclassified error the processor repeats as 'unexpected')."""
    page = b"<html>Planlagt vedlikehold</html>"
    post = respx.post(f"{SB1}/api/biz/customers").respond(200, content=page)
    with pytest.raises(SpareBank1AmbiguousWrite) as raised:
        sparebank1([]).create("customers", {"Name": "Acme"})
    assert post.call_count == 1 and raised.value.status == 200 and "not JSON" in str(raised.value)

    sleeps: list[float] = []
    get = respx.get(f"{SB1}/api/biz/vattypes").mock(
        side_effect=[httpx.Response(200, content=page), httpx.Response(200, json=[])]
    )
    assert sparebank1(sleeps).list("vattypes") == []
    assert get.call_count == 2 and len(sleeps) == 1
