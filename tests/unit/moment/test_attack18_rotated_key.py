"""Attack on issue 18 (a cache holding an old credential): a 401 reads the stored Moment key again once,
so an operator's rotation within the processor's credentials cache age does not pause the tenant."""

from __future__ import annotations

import base64

import pytest
import respx
from pydantic import SecretStr

from momentsync.errors import TenantLevelError, TenantProblem
from momentsync.moment.client import MomentClient

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
CUSTOMER = {
    "id": 1,
    "customerNumber": "10001",
    "name": "Fjordlys AS",
    "lastModifiedDate": "2025-01-02T08:00:00Z",
}


def basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"apikey:{key}".encode()).decode()


def client(fresh_key) -> MomentClient:
    return MomentClient("acme", "old-key", base_url=BASE, sleep=lambda _s: None, fresh_key=fresh_key)


def test_a_401_with_a_rotated_key_in_the_store_is_tried_again_with_the_new_key():
    reads = []

    def fresh():
        reads.append(1)
        return SecretStr("new-key")

    with respx.mock(base_url=ROOT, assert_all_called=False) as mock:
        route = mock.get("/customers/1")
        route.side_effect = lambda request: (
            respx.MockResponse(200, json=CUSTOMER)
            if request.headers["Authorization"] == basic("new-key")
            else respx.MockResponse(401, json={"message": "Unauthorized"})
        )
        moment = client(fresh)
        assert moment.get_customer(1).name == "Fjordlys AS"
        assert moment.get_customer(1).name == "Fjordlys AS"  # the new key is kept
    assert route.call_count == 3 and len(reads) == 1


@pytest.mark.parametrize("stored", [SecretStr("old-key"), None, "raises"])
def test_a_401_with_the_same_key_or_none_stored_still_means_the_key_is_invalid(stored):
    def fresh():
        if stored == "raises":
            raise RuntimeError("secrets manager down")
        return stored

    with respx.mock(base_url=ROOT) as mock:
        route = mock.get("/customers/1").respond(401, json={"message": "Unauthorized"})
        with pytest.raises(TenantLevelError) as exc:
            client(fresh).get_customer(1)
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID
    assert route.call_count == 1  # no loop: one read of the store, no second request


def test_a_key_that_keeps_failing_after_its_rotation_is_invalid_after_one_extra_request():
    with respx.mock(base_url=ROOT) as mock:
        route = mock.get("/customers/1").respond(401, json={"message": "Unauthorized"})
        with pytest.raises(TenantLevelError):
            client(lambda: SecretStr("new-key")).get_customer(1)
    assert route.call_count == 2


def test_an_unreadable_stored_key_is_logged_without_what_the_error_quotes(monkeypatch):
    import momentsync.moment.client as moment_client

    lines: list[str] = []
    monkeypatch.setattr(
        moment_client.logger,
        "warning",
        lambda message, *args, **kwargs: lines.append(f"{message} {args} {kwargs}"),
    )

    def fresh():
        raise ValueError('invalid JSON: input_value=\'{"moment_api_key": "sk-live-9f8e7d6c5b4a"}\'')

    with respx.mock(base_url=ROOT) as mock:
        mock.get("/customers/1").respond(401, json={"message": "Unauthorized"})
        with pytest.raises(TenantLevelError):
            client(fresh).get_customer(1)
    assert any("could not read the stored Moment API key" in line for line in lines)
    assert not any("sk-live-9f8e7d6c5b4a" in line or "exc_info" in line for line in lines)
