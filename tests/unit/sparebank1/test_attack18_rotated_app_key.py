"""Attack on issue 18 (a cache holding an old credential): the SpareBank 1 app key is cached per process;
a mint refused as invalid_client reads it again once and tries a rotated key, never loops."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from momentsync.connectors.sparebank1.auth import AppCredentials, AppTokens
from momentsync.errors import TenantLevelError

IDENTITY = "https://login.regnskap.sparebank1.no"
TOKEN_URL = f"{IDENTITY}/connect/token"
API = "https://regnskap.sparebank1.no"


def credentials() -> AppCredentials:
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    return AppCredentials.from_secret(json.dumps({"client_id": "app-1", "private_key_pem": pem}))


REFUSED = httpx.Response(400, json={"error": "invalid_client", "error_description": "InvalidSignatureError"})
GRANTED = httpx.Response(200, json={"access_token": "t-1", "expires_in": 3600, "token_type": "Bearer"})


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{IDENTITY}/.well-known/openid-configuration").respond(404)
        yield router


def test_a_refused_cached_key_is_read_again_and_a_rotated_one_used(mock):
    old, new = credentials(), credentials()
    reads = []
    route = mock.post(TOKEN_URL).mock(side_effect=[REFUSED, GRANTED])
    tokens = AppTokens(lambda: old, fresh_credentials=lambda: reads.append(1) or new)
    assert tokens.for_hosts(IDENTITY, API).access_token() == "t-1"
    assert route.call_count == 2 and reads == [1]


def test_the_same_key_read_again_is_refused_at_once(mock):
    same = credentials()
    route = mock.post(TOKEN_URL).mock(side_effect=[REFUSED, GRANTED])
    tokens = AppTokens(lambda: same, fresh_credentials=lambda: same)
    with pytest.raises(TenantLevelError):
        tokens.for_hosts(IDENTITY, API).access_token()
    assert route.call_count == 1


def test_another_refusal_reads_nothing_again(mock):
    reads = []
    route = mock.post(TOKEN_URL).respond(400, json={"error": "invalid_scope"})
    tokens = AppTokens(credentials, fresh_credentials=lambda: reads.append(1) or credentials())
    with pytest.raises(TenantLevelError):
        tokens.for_hosts(IDENTITY, API).access_token()
    assert route.call_count == 1 and reads == []
