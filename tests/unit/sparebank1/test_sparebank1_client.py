"""SpareBank 1 client and app auth against respx: assertion claims, token cache, 401 -> mint once,
retries, error bodies -> one reason, foreign keys, ambiguous POSTs, activation gate."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from momentsync.connectors.sparebank1.auth import ASSERTION_TYPE, AppCredentials, AppTokens, TokenAudience
from momentsync.connectors.sparebank1.client import (
    SpareBank1AmbiguousWrite,
    SpareBank1Client,
    SpareBank1ForeignKeyError,
    SpareBank1TenantError,
    SpareBank1Unavailable,
    SpareBank1ValidationError,
)
from momentsync.connectors.sparebank1.hosts import origin
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError

IDENTITY = "https://login.example.test"
TOKEN_URL = f"{IDENTITY}/connect/token"
API = "https://regnskap.example.test"
AUDIENCE = TokenAudience(IDENTITY, origin(API))
COMPANY = str(uuid.UUID(int=7))


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def credentials(key) -> AppCredentials:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return AppCredentials.from_secret(json.dumps({"client_id": "app-1", "private_key_pem": pem}))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(credentials, clock) -> AppTokens:
    return AppTokens(lambda: credentials, margin_seconds=60, clock=clock)


def token_route(mock: respx.MockRouter, *values: str, expires_in: int = 3600) -> respx.Route:
    mock.get(f"{IDENTITY}/.well-known/openid-configuration").respond(200, json={"token_endpoint": TOKEN_URL})
    return mock.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(200, json={"access_token": v, "expires_in": expires_in, "token_type": "Bearer"})
            for v in values
        ]
    )


def client(tokens: AppTokens) -> SpareBank1Client:
    return SpareBank1Client(
        base_url=API, company_key=COMPANY, tokens=tokens.for_hosts(IDENTITY, API), sleep=lambda _s: None
    )


# ---------------------------------------------------------------- auth
@respx.mock
def test_assertion_is_rs256_with_the_documented_claims(tokens, key, clock):
    route = token_route(respx.mock, "tok-1", "tok-2")
    tokens.access_token(AUDIENCE)
    tokens.forget()
    tokens.access_token(AUDIENCE)

    forms = [parse_qs(call.request.content.decode()) for call in route.calls]
    assert forms[0]["grant_type"] == ["client_credentials"] and forms[0]["scope"] == ["AppFramework"]
    assert forms[0]["client_assertion_type"] == [ASSERTION_TYPE] and forms[0]["client_id"] == ["app-1"]
    claims = [
        jwt.decode(
            f["client_assertion"][0],
            key.public_key(),
            algorithms=["RS256"],
            audience=TOKEN_URL,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
        for f in forms
    ]
    assert claims[0]["iss"] == claims[0]["sub"] == "app-1"
    assert claims[0]["exp"] - claims[0]["iat"] <= 300 and claims[0]["iat"] == int(clock.now)
    assert claims[0]["jti"] != claims[1]["jti"]


@respx.mock
def test_token_is_cached_until_expiry_minus_the_margin(tokens, clock):
    route = token_route(respx.mock, "tok-1", "tok-2", expires_in=600)
    assert tokens.access_token(AUDIENCE) == "tok-1"
    clock.now += 500  # 600 - 60 margin = 540 s of use
    assert tokens.access_token(AUDIENCE) == "tok-1"
    clock.now += 41
    assert tokens.access_token(AUDIENCE) == "tok-2"
    assert route.call_count == 2


@respx.mock
def test_invalid_client_is_a_tenant_level_error_without_secrets(tokens):
    respx.get(f"{IDENTITY}/.well-known/openid-configuration").respond(404)
    respx.post(TOKEN_URL).respond(400, json={"error": "invalid_client", "error_description": "bad signature"})
    with pytest.raises(TenantLevelError) as raised:
        tokens.access_token(AUDIENCE)
    assert raised.value.problem is TenantProblem.API_ACCESS_MISSING
    assert "invalid_client" in raised.value.reason and "BEGIN" not in raised.value.reason


def test_placeholder_secret_is_refused_clearly():
    with pytest.raises(TenantLevelError) as raised:
        AppCredentials.from_secret('{"client_id": "REPLACE_ME", "private_key_pem": "REPLACE_ME"}')
    assert "SpareBank1AppSecret" in (raised.value.remedy or "")


# ---------------------------------------------------------------- client
@respx.mock
def test_business_calls_carry_token_and_company_key_and_lists_are_paged(tokens):
    token_route(respx.mock, "tok-1")
    pages = [[{"ID": i} for i in range(100)], [{"ID": 100}]]
    route = respx.get(f"{API}/api/biz/customers").mock(
        side_effect=[httpx.Response(200, json=p) for p in pages]
    )
    rows = client(tokens).list_all("customers", filter="CustomerNumber eq 100001")
    assert len(rows) == 101
    first, second = (call.request for call in route.calls)
    assert first.headers["Authorization"] == "Bearer tok-1" and first.headers["CompanyKey"] == COMPANY
    assert (first.url.params["top"], first.url.params["skip"], second.url.params["skip"]) == (
        "100",
        "0",
        "100",
    )
    assert first.url.params["filter"] == "CustomerNumber eq 100001"


@respx.mock
def test_401_mints_once_more_then_becomes_a_tenant_error(tokens):
    route = token_route(respx.mock, "tok-1", "tok-2", "tok-3")
    api = respx.get(f"{API}/api/biz/projects").mock(
        side_effect=[
            httpx.Response(401, json={"Message": "Authorization has been denied for this request."}),
            httpx.Response(200, json=[]),
        ]
    )
    sb1 = client(tokens)
    assert sb1.list("projects") == []
    assert [c.request.headers["Authorization"] for c in api.calls] == ["Bearer tok-1", "Bearer tok-2"]

    api.mock(
        return_value=httpx.Response(401, json={"Message": "Authorization has been denied for this request."})
    )
    with pytest.raises(SpareBank1TenantError) as raised:
        sb1.list("projects")
    assert raised.value.problem is TenantProblem.NEEDS_REAUTH and route.call_count == 3
    assert "tok-" not in raised.value.reason


@respx.mock
def test_403_activation_gate_names_the_marketplace(tokens):
    token_route(respx.mock, "tok-1")
    text = "Du har ikke tilgang til Moment Team — produktet du prøver å aktivere er ikke tilgjengelig"
    respx.get(f"{API}/api/biz/customers").respond(403, json={"Message": text})
    with pytest.raises(SpareBank1TenantError) as raised:
        client(tokens).list("customers")
    assert raised.value.problem is TenantProblem.API_ACCESS_MISSING
    assert "not activated" in raised.value.reason and "Markedsplass" in raised.value.remedy


@respx.mock
def test_validation_body_becomes_one_readable_reason(tokens):
    token_route(respx.mock, "tok-1")
    body = {
        "CustomerNumber": 5,
        "_validationResults": {
            "CustomerNumber": [
                {"Message": "CustomerNumber 5 is outside the customer number series", "Level": 3}
            ],
            "Info.Name": [{"Message": "Customer needs a name", "Level": 3}],
        },
        "Message": "Validation failed",
        "Messages": [{"Message": "CustomerNumber 5 is outside the customer number series"}],
    }
    respx.post(f"{API}/api/biz/customers").respond(400, json=body)
    with pytest.raises(SpareBank1ValidationError) as raised:
        client(tokens).create("customers", {"CustomerNumber": 5})
    assert isinstance(raised.value, PermanentError)
    assert raised.value.platform_message == (
        "CustomerNumber 5 is outside the customer number series; Info.Name: Customer needs a name"
    )
    assert raised.value.fields == {"CustomerNumber", "Info.Name"}


@respx.mock
def test_foreign_key_500_is_permanent_and_names_the_field(tokens):
    token_route(respx.mock, "tok-1")
    text = (
        'The INSERT statement conflicted with the FOREIGN KEY constraint "FK_JournalEntryLineDraft_Account_'
        'AccountID". The conflict occurred in database "company", table "dbo.Account", column \'ID\'. '
        "(AccountID=3000)"
    )
    route = respx.post(f"{API}/api/biz/journalentries").respond(
        500, json={"Message": "An error occurred", "ExceptionMessage": text}
    )
    with pytest.raises(SpareBank1ForeignKeyError) as raised:
        client(tokens).action("POST", "journalentries", "book-journal-entries", body=[{}])
    assert "AccountID" in raised.value.reason and "likely wrong id" in raised.value.reason
    assert route.call_count == 1


@respx.mock
def test_get_retries_5xx_and_429_but_a_post_is_never_repeated(tokens):
    token_route(respx.mock, "tok-1")
    get = respx.get(f"{API}/api/biz/vattypes").mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json=[]),
        ]
    )
    assert client(tokens).list("vattypes") == []
    assert get.call_count == 3

    post = respx.post(f"{API}/api/biz/journalentries").respond(502)
    with pytest.raises(SpareBank1AmbiguousWrite) as raised:
        client(tokens).action("POST", "journalentries", "book-journal-entries", body=[{}])
    assert isinstance(raised.value, TransientError) and post.call_count == 1
    assert "natural key" in raised.value.reason

    respx.get(f"{API}/api/biz/accounts").respond(500)
    with pytest.raises(SpareBank1Unavailable):
        client(tokens).list("accounts")


@respx.mock
def test_amounts_travel_as_exact_decimal_numbers(tokens):
    token_route(respx.mock, "tok-1")
    route = respx.post(f"{API}/api/biz/journalentries").respond(200, json=[{"ID": 1, "Amount": 1234.56}])
    answer = client(tokens).action(
        "POST", "journalentries", "book-journal-entries", body=[{"Amount": Decimal("-9375.10")}]
    )
    assert route.calls[0].request.content == b'[{"Amount":-9375.10}]'
    assert answer[0]["Amount"] == Decimal("1234.56")
