"""FikenTokenProvider and the OAuth client, with Fiken's token endpoint mocked by respx."""

from __future__ import annotations

import base64
import json
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from pydantic import SecretStr

from momentsync.aws.app_secrets import FikenAppSecret
from momentsync.aws.leases import LeaseBusy
from momentsync.connectors.fiken.oauth import (
    AppSecretNotConfigured,
    FikenOAuthClient,
    InvalidGrant,
    OAuthRejected,
)
from momentsync.connectors.fiken.tokens import FikenTokenProvider
from momentsync.credentials import OAuthTokens, TenantCredentials
from momentsync.errors import TenantLevelError, TenantProblem, TransientError
from momentsync.tenants import TargetSystem, Tenant, TenantConflict, TenantStatus

OAUTH = "https://fiken.test"
TOKEN_URL = f"{OAUTH}/oauth/token"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CLIENT_ID, CLIENT_SECRET = "momentsync-app", "app-secret-value-1234"


# ---------------------------------------------------------------- fakes
class FakeSecretsManager:
    def __init__(self, value: dict) -> None:
        self.value = value

    def get_secret_value(self, SecretId: str) -> dict:  # noqa: N803 - boto3's argument name
        return {"SecretString": json.dumps(self.value)}


class MemoryCredentials:
    """A store whose cached read (``fresh=False``) can lag behind, as the real one's cache does."""

    def __init__(self, credentials: TenantCredentials) -> None:
        self.current = credentials
        self.cached = credentials
        self.reads: list[bool] = []
        self.puts: list[TenantCredentials] = []

    def get(self, tenant_id: str, *, fresh: bool = False) -> TenantCredentials:
        self.reads.append(fresh)
        return self.current if fresh else self.cached

    def put(self, tenant_id: str, credentials: TenantCredentials) -> None:
        self.puts.append(credentials)
        self.current = self.cached = credentials


class MemoryTenants:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def get(self, tenant_id: str) -> Tenant | None:
        return self.tenant.model_copy(deep=True)

    def save(self, tenant: Tenant) -> Tenant:
        if tenant.version != self.tenant.version:
            raise TenantConflict("changed")
        self.tenant = tenant.model_copy(update={"version": tenant.version + 1})
        return self.tenant


class MemoryLeases:
    def __init__(self) -> None:
        self.busy = False
        self.held: list[str] = []
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, name: str, *, wait_seconds: float | None = None):
        if self.busy:
            raise LeaseBusy(f"lease {name} is held elsewhere; try again later")
        with self._lock:
            self.held.append(name)
            yield


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def tokens(access: str, refresh: str | None, expires_in_minutes: float) -> OAuthTokens:
    return OAuthTokens(
        access_token=SecretStr(access),
        refresh_token=SecretStr(refresh) if refresh else None,
        expires_at=NOW + timedelta(minutes=expires_in_minutes),
    )


def token_answer(access: str, refresh: str | None = None, expires_in: int = 86157) -> httpx.Response:
    body = {"access_token": access, "token_type": "bearer", "expires_in": expires_in}
    if refresh:
        body["refresh_token"] = refresh
    return httpx.Response(200, json=body)


@pytest.fixture
def tenant() -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme AS",
        target=TargetSystem.FIKEN,
        moment_company_code="acme",
        fiken_company_slug="acme-as",
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.fixture
def oauth() -> FikenOAuthClient:
    secret = FikenAppSecret(
        FakeSecretsManager({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}), "app"
    )
    return FikenOAuthClient(OAUTH, secret, http=httpx.Client())


@pytest.fixture
def world(tenant, oauth):
    """A provider over in-memory stores holding an access token that expires in 2 minutes."""

    class World:
        credentials = MemoryCredentials(
            TenantCredentials(
                moment_api_key=SecretStr("moment-key"), fiken=tokens("access-1", "refresh-1", 2)
            )
        )
        tenants = MemoryTenants(tenant)
        leases = MemoryLeases()
        clock = Clock()
        slept: list[float] = []  # the provider's pauses, taken at once

        def provider(self, **options) -> FikenTokenProvider:
            return FikenTokenProvider(
                "acme",
                credentials=self.credentials,
                oauth=oauth,
                leases=self.leases,  # type: ignore[arg-type]
                tenants=self.tenants,
                clock=self.clock,
                refresh_margin=timedelta(minutes=5),
                persist_retry_seconds=0,
                **{"sleep": self.slept.append, **options},
            )

    return World()


# ---------------------------------------------------------------- cache and refresh
@respx.mock(assert_all_called=False)
def test_a_token_far_from_expiry_is_served_from_memory_without_refresh(respx_mock, world):
    world.credentials.put(
        "acme", world.credentials.current.model_copy(update={"fiken": tokens("a", "r", 60)})
    )
    world.credentials.reads.clear()
    token_route = respx_mock.post(TOKEN_URL)
    provider = world.provider()

    assert [provider.access_token() for _ in range(3)] == ["a", "a", "a"]
    assert world.credentials.reads == [False]  # read once, then memory
    assert not token_route.called
    assert world.leases.held == []


@respx.mock
def test_an_expiring_token_is_refreshed_with_basic_auth_and_the_rotated_pair_stored_first(respx_mock, world):
    seen: dict = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["authorization"]
        seen["form"] = parse_qs(request.content.decode())
        seen["content_type"] = request.headers["content-type"]
        return token_answer("access-2", "refresh-2")

    respx_mock.post(TOKEN_URL).mock(side_effect=answer)
    provider = world.provider()

    assert provider.access_token() == "access-2"

    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert seen["auth"] == f"Basic {basic}"
    assert seen["content_type"] == "application/x-www-form-urlencoded"
    assert seen["form"] == {"grant_type": ["refresh_token"], "refresh_token": ["refresh-1"]}
    [stored] = world.credentials.puts
    assert stored.fiken.access_token.get_secret_value() == "access-2"
    assert stored.fiken.refresh_token.get_secret_value() == "refresh-2"
    assert stored.fiken.expires_at == NOW + timedelta(seconds=86157)
    assert stored.moment_api_key.get_secret_value() == "moment-key"
    assert world.credentials.reads[-1] is True  # re-read bypassing the cache, under the lease
    assert world.leases.held == ["fiken-token#acme"]
    assert provider.access_token() == "access-2"  # then from memory
    assert len(world.credentials.puts) == 1


@respx.mock
def test_a_refresh_answer_without_a_refresh_token_keeps_the_last_one(respx_mock, world):
    respx_mock.post(TOKEN_URL).mock(return_value=token_answer("access-2"))

    assert world.provider().access_token() == "access-2"
    assert world.credentials.current.fiken.refresh_token.get_secret_value() == "refresh-1"


@respx.mock(assert_all_called=False)
def test_under_the_lease_a_token_refreshed_elsewhere_is_used_without_a_token_call(respx_mock, world):
    token_route = respx_mock.post(TOKEN_URL)
    # The store's cache still has the expiring token; the secret itself already has a new one.
    world.credentials.current = world.credentials.current.model_copy(
        update={"fiken": tokens("access-other", "refresh-other", 600)}
    )

    assert world.provider().access_token() == "access-other"
    assert not token_route.called
    assert world.credentials.puts == []


@respx.mock
def test_after_a_401_the_provider_refreshes_once(respx_mock, world):
    world.credentials.put(
        "acme", world.credentials.current.model_copy(update={"fiken": tokens("a", "r", 600)})
    )
    route = respx_mock.post(TOKEN_URL).mock(return_value=token_answer("a-new", "r-new"))
    provider = world.provider()
    assert provider.access_token() == "a"

    assert provider.refresh_after_unauthorized("a") == "a-new"
    assert route.call_count == 1
    assert parse_qs(route.calls.last.request.content.decode())["refresh_token"] == ["r"]
    assert provider.access_token() == "a-new"


@respx.mock(assert_all_called=False)
def test_after_a_401_a_token_already_replaced_by_another_holder_is_used_as_is(respx_mock, world):
    route = respx_mock.post(TOKEN_URL)
    world.credentials.current = world.credentials.current.model_copy(
        update={"fiken": tokens("replaced", "refresh-2", 600)}
    )

    assert world.provider().refresh_after_unauthorized("access-1") == "replaced"
    assert not route.called


@respx.mock
def test_invalid_grant_flags_the_tenant_for_reauth_and_raises_a_tenant_level_error(respx_mock, world):
    respx_mock.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400,
            json={"error": "invalid_grant", "error_description": "refresh-1 is invalid or revoked"},
        )
    )

    with pytest.raises(TenantLevelError) as raised:
        world.provider().access_token()

    error = raised.value
    assert error.problem is TenantProblem.NEEDS_REAUTH
    assert "momentsync tenants connect-url acme" in (error.remedy or "")
    assert world.tenants.tenant.status is TenantStatus.NEEDS_REAUTH
    assert world.tenants.tenant.version == 1
    assert world.tenants.tenant.status_reason
    assert world.credentials.puts == []
    assert "refresh-1" not in f"{error} {error.reason} {error.remedy} {error.detail} {error!r}"
    assert world.slept == [0.25, 0.5, 1.0]  # the store was re-read over the grace before deciding


@respx.mock
def test_invalid_grant_after_another_holder_rotated_the_token_uses_theirs(respx_mock, world):
    def answer(request: httpx.Request) -> httpx.Response:
        # A holder whose lease ran out stored a new pair while our refresh was in flight.
        world.credentials.current = world.credentials.current.model_copy(
            update={"fiken": tokens("access-theirs", "refresh-theirs", 600)}
        )
        return httpx.Response(400, json={"error": "invalid_grant"})

    respx_mock.post(TOKEN_URL).mock(side_effect=answer)

    assert world.provider().access_token() == "access-theirs"
    assert world.tenants.tenant.status is TenantStatus.ACTIVE
    assert world.credentials.puts == []


@respx.mock
def test_invalid_grant_while_a_holder_whose_lease_ran_out_is_still_storing_its_pair_waits_for_it(
    respx_mock, world
):
    """A refresh that outlasted its 30 s lease overlaps the next holder's: whichever reaches Fiken
    second gets invalid_grant while the first is still storing the new pair. One re-read of the
    store then found the spent token and parked the tenant until a human reconnected it."""
    respx_mock.post(TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))

    def stored_during_the_second_pause(seconds: float) -> None:
        world.slept.append(seconds)
        if len(world.slept) == 2:
            world.credentials.current = world.credentials.current.model_copy(
                update={"fiken": tokens("access-theirs", "refresh-theirs", 600)}
            )

    assert world.provider(sleep=stored_during_the_second_pause).access_token() == "access-theirs"
    assert world.tenants.tenant.status is TenantStatus.ACTIVE
    assert world.credentials.puts == []
    assert world.slept == [0.25, 0.5]


def test_no_stored_connection_means_reauth(world):
    world.credentials.current = world.credentials.cached = TenantCredentials(moment_api_key=SecretStr("k"))

    with pytest.raises(TenantLevelError):
        world.provider().access_token()
    assert world.tenants.tenant.status is TenantStatus.NEEDS_REAUTH


def test_a_lease_held_elsewhere_beyond_the_wait_is_transient(world):
    world.leases.busy = True

    with pytest.raises(TransientError):
        world.provider().access_token()


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(503), httpx.Response(429), httpx.ConnectError("refused"), httpx.ReadTimeout("slow")],
    ids=["503", "429", "connect", "timeout"],
)
@respx.mock
def test_token_endpoint_trouble_is_transient_and_stores_nothing(respx_mock, world, answer):
    route = respx_mock.post(TOKEN_URL)
    route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(return_value=answer)

    with pytest.raises(TransientError) as raised:
        world.provider().access_token()

    assert not isinstance(raised.value, TenantLevelError)
    assert world.credentials.puts == []
    assert world.tenants.tenant.status is TenantStatus.ACTIVE


@respx.mock
def test_a_failed_write_of_the_rotated_pair_is_retried(respx_mock, world):
    respx_mock.post(TOKEN_URL).mock(return_value=token_answer("access-2", "refresh-2"))
    real_put, failures = world.credentials.put, [RuntimeError("throttled")]

    def flaky_put(tenant_id, credentials):
        if failures:
            raise failures.pop()
        real_put(tenant_id, credentials)

    world.credentials.put = flaky_put

    assert world.provider().access_token() == "access-2"
    assert world.credentials.current.fiken.refresh_token.get_secret_value() == "refresh-2"


# ---------------------------------------------------------------- the OAuth client itself
def test_authorize_url_has_the_four_required_parameters(oauth):
    url = urlsplit(
        oauth.authorize_url(redirect_uri="https://api.example/oauth/fiken/callback", state="s" * 43)
    )

    assert (url.scheme, url.netloc, url.path) == ("https", "fiken.test", "/oauth/authorize")
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://api.example/oauth/fiken/callback"],
        "state": ["s" * 43],
    }


@respx.mock
def test_code_exchange_sends_code_state_and_the_identical_redirect_uri(respx_mock, oauth):
    route = respx_mock.post(TOKEN_URL).mock(return_value=token_answer("access-abc", "refresh-abc", 3600))

    grant = oauth.exchange_code(
        code="the-code", redirect_uri="http://127.0.0.1:9/oauth/fiken/callback", state="st"
    )

    request = route.calls.last.request
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": ["http://127.0.0.1:9/oauth/fiken/callback"],
        "state": ["st"],
    }
    assert request.headers["authorization"].startswith("Basic ")
    assert "client_secret" not in request.content.decode()
    assert grant.to_tokens(NOW).expires_at == NOW + timedelta(hours=1)
    assert "access-abc" not in repr(grant) and "refresh-abc" not in repr(grant.to_tokens(NOW))


@respx.mock
def test_rejections_are_typed_and_never_echo_what_was_sent(respx_mock, oauth):
    respx_mock.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "code the-code expired"}
            ),
            httpx.Response(401, json={"error": "invalid_client", "error_description": CLIENT_SECRET}),
        ]
    )

    with pytest.raises(InvalidGrant) as grant_error:
        oauth.exchange_code(code="the-code", redirect_uri="https://x/cb", state="st")
    with pytest.raises(OAuthRejected) as client_error:
        oauth.refresh("some-refresh-token")

    assert not isinstance(client_error.value, InvalidGrant)
    assert client_error.value.error == "invalid_client"
    for message in (str(grant_error.value), str(client_error.value)):
        assert "the-code" not in message and CLIENT_SECRET not in message and "some-refresh" not in message


@respx.mock
def test_revoke_posts_the_access_token_as_bearer(respx_mock, oauth):
    route = respx_mock.post(f"{OAUTH}/oauth/revoke").mock(return_value=httpx.Response(200))

    oauth.revoke("access-xyz")

    assert route.calls.last.request.headers["authorization"] == "Bearer access-xyz"


@pytest.mark.parametrize(
    "value",
    [{"client_id": "REPLACE_ME", "client_secret": "REPLACE_ME"}, {"client_id": "x"}],
    ids=["placeholder", "incomplete"],
)
def test_an_unconfigured_app_secret_is_refused_without_quoting_it(value):
    secret = FikenAppSecret(FakeSecretsManager(value), "app")

    with pytest.raises(AppSecretNotConfigured) as raised:
        secret.get()
    assert raised.value.__cause__ is None


def test_reprs_hold_no_secrets(world, oauth):
    secret = FikenAppSecret(
        FakeSecretsManager({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}), "app"
    )
    texts = [repr(world.provider()), repr(secret.get()), repr(world.credentials.current), str(secret.get())]
    for text in texts:
        assert CLIENT_SECRET not in text and "access-1" not in text and "refresh-1" not in text
