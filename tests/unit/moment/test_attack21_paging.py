"""Attack on #21's paging: an empty page is not the end while Moment still counts unread records.

A 1-based Moment that answers ``page=0`` with an empty page (an offset of -size) used to end the list
at once: 0 customers read of the 5 Moment counts, silently (a resync enqueued nothing).
"""

from __future__ import annotations

import httpx
import pytest
import respx

from momentsync.moment.client import MomentClient, MomentResponseInvalid

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
CUSTOMERS = [{"id": n, "name": f"C{n}"} for n in range(1, 6)]


@pytest.fixture
def client():
    with MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None, page_size=2) as moment:
        yield moment


@pytest.fixture
def mock():
    with respx.mock(base_url=ROOT, assert_all_called=False) as router:
        yield router


def one_based_empty_page_zero(request: httpx.Request) -> httpx.Response:
    size = int(request.url.params["size"])
    asked = int(request.url.params["page"])
    start = (asked - 1) * size
    content = CUSTOMERS[start : start + size] if asked >= 1 else []
    page = {"number": asked, "size": size, "totalElements": len(CUSTOMERS), "totalPages": 3}
    return httpx.Response(200, json={"content": content, "page": page})


def test_a_one_based_moment_answering_page_zero_empty_is_followed(client, mock):
    route = mock.get("/customers").mock(side_effect=one_based_empty_page_zero)
    assert [c.id for c in client.list_customers()] == [1, 2, 3, 4, 5]
    assert route.call_count == 4


def test_an_empty_page_short_of_the_count_is_an_error_not_the_end(client, mock):
    pages = [
        {"content": CUSTOMERS[:2], "page": {"number": 0, "size": 2, "totalElements": 5, "totalPages": 3}},
        {"content": [], "page": {"number": 1, "size": 2, "totalElements": 5, "totalPages": 3}},
    ]
    mock.get("/customers").mock(side_effect=[httpx.Response(200, json=p) for p in pages])
    with pytest.raises(MomentResponseInvalid, match="2 of 5"):
        list(client.list_customers())


def test_an_empty_list_is_still_empty(client, mock):
    page = {"number": 0, "size": 2, "totalElements": 0, "totalPages": 0}
    route = mock.get("/customers").respond(json={"content": [], "page": page})
    assert list(client.list_customers()) == []
    assert route.call_count == 1


def test_a_page_holding_more_records_than_moment_counts_is_an_error_not_the_end(client, mock):
    # A Moment that does not count (totalElements 0) ended the list after page 0: 2 of 5 read, silently.
    page = {"number": 0, "size": 2, "totalElements": 0, "totalPages": 0}
    mock.get("/customers").respond(json={"content": CUSTOMERS[:2], "page": page})
    with pytest.raises(MomentResponseInvalid, match="2 records but counts 0"):
        list(client.list_customers())


def test_the_probe_sample_follows_a_one_based_moment_too(client, mock):
    # `tenants probe` read page 0 only: every field "never seen", nothing to judge, on a live tenant.
    mock.get("/customers").mock(side_effect=one_based_empty_page_zero)
    assert [record["id"] for record in client.sample("customers", 2)] == [1, 2]


def test_the_probe_sample_of_an_empty_list_reads_once(client, mock):
    page = {"number": 0, "size": 2, "totalElements": 0, "totalPages": 0}
    route = mock.get("/customers").respond(json={"content": [], "page": page})
    assert client.sample("customers", 2) == [] and route.call_count == 1
