"""SpareBank 1 hosts come only from the allowlist, and a token travels only to the hosts it was minted for
(issue #20: a bank's /api/endpoints answer must not be able to send the app token anywhere else)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from momentsync.connectors.sparebank1.access import SpareBank1Access
from momentsync.connectors.sparebank1.auth import AppCredentials, AppTokens
from momentsync.connectors.sparebank1.hosts import BANKS, EndpointDiscovery, check_endpoints, resolve_bank
from momentsync.connectors.sparebank1.hosts import ServiceEndpoints as Services
from momentsync.errors import PermanentError
from momentsync.tenants import TargetSystem, Tenant

LOGIN = "https://login.regnskap.sparebank1.no"
SMN = "https://regnskap.smn.no"
SB1 = "https://regnskap.sb1.no"
NOW = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def credentials() -> AppCredentials:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return AppCredentials.from_secret(json.dumps({"client_id": "app-1", "private_key_pem": pem}))


def tenant(bank: str, tenant_id: str = "t1") -> Tenant:
    return Tenant(
        tenant_id=tenant_id,
        name=tenant_id,
        moment_company_code=tenant_id,
        target=TargetSystem.SPAREBANK1,
        sparebank1_bank=bank,
        sparebank1_company_key=str(uuid.uuid4()),
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


def test_listed_banks_resolve_and_a_url_is_refused_unless_the_stack_allows_it():
    assert resolve_bank("smn").base_url == SMN
    assert resolve_bank("test").identity_url == "https://test-login.unimicro.no"
    assert len(BANKS) >= 11
    for url in ("https://regnskap.newbank.no/", "http://127.0.0.1:8083"):
        with pytest.raises(PermanentError, match="accepts only the listed banks"):
            resolve_bank(url)  # production: never a URL
    assert (
        resolve_bank("https://regnskap.newbank.no/", custom_urls=True).base_url
        == "https://regnskap.newbank.no"
    )
    assert resolve_bank("http://127.0.0.1:8083", custom_urls=True).custom
    for bad in ("http://regnskap.evil.example", "nobank", "", "ftp://x", "https://u:p@regnskap.evil.example"):
        with pytest.raises(PermanentError):
            resolve_bank(bad, custom_urls=True)


@respx.mock
def test_endpoint_discovery_is_cached_and_falls_back_to_the_bank():
    route = respx.get(f"{SMN}/api/endpoints").respond(
        200, json={"AppFramework": f"{SMN}/", "Files": "https://files.regnskap.smn.no"}
    )
    discovery = EndpointDiscovery()
    found = discovery.endpoints(resolve_bank("smn"))
    discovery.endpoints(resolve_bank("smn"))
    assert route.call_count == 1
    assert (found.app_framework, found.identity, found.files) == (SMN, LOGIN, "https://files.regnskap.smn.no")


@pytest.mark.parametrize(
    ("app_framework", "identity", "files"),
    [
        ("https://evil.example", LOGIN, None),
        ("http://regnskap.smn.no", LOGIN, None),  # the token never travels in clear
        ("https://regnskap.smn.no:8443", LOGIN, None),
        ("https://regnskap.smn.no.evil.example", LOGIN, None),
        ("https://x@regnskap.smn.no", LOGIN, None),
        (SB1, LOGIN, None),  # another listed bank's host is not this bank's
        (SMN, "https://evil.example", None),
        (SMN, "https://login.regnskap.sparebank1.no.evil.example", None),
        (SMN, "https://evil.login.regnskap.sparebank1.no", None),
        (SMN, "https://test-login.unimicro.no", None),  # another bank's identity
        (SMN, LOGIN, "https://files.evil.example"),
    ],
)
def test_a_listed_bank_naming_a_host_outside_its_allowlist_is_refused(app_framework, identity, files):
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(resolve_bank("smn"), Services(app_framework, identity, files))


def test_a_listed_bank_may_name_its_own_subdomains_and_the_shared_login():
    services = Services("https://api.regnskap.smn.no", LOGIN, "https://files.regnskap.smn.no")
    assert check_endpoints(resolve_bank("smn"), services) == services


def test_a_custom_bank_must_serve_every_service_from_its_own_origin():
    bank = resolve_bank("http://127.0.0.1:8083", custom_urls=True)
    same = Services("http://127.0.0.1:8083", "http://127.0.0.1:8083/identity", "http://127.0.0.1:8083/files")
    assert check_endpoints(bank, same) == same
    for services in (
        Services("http://127.0.0.1:8083", "http://127.0.0.1:9000/identity", None),  # the attack
        Services("http://127.0.0.1:8084", "http://127.0.0.1:8083/identity", None),
        Services("http://127.0.0.1:8083", LOGIN, None),
    ):
        with pytest.raises(PermanentError, match="outside its allowlist"):
            check_endpoints(bank, services)


@respx.mock
def test_a_refused_service_map_gets_no_token_minted_and_nothing_sent(credentials):
    respx.get(f"{SMN}/api/endpoints").respond(
        200, json={"AppFramework": "https://evil.example", "Identity": LOGIN}
    )
    token = respx.post(f"{LOGIN}/connect/token").respond(200, json={"access_token": "t", "expires_in": 3600})
    evil = respx.route(host="evil.example").respond(200, json=[])
    access = SpareBank1Access(AppTokens(lambda: credentials), discovery=EndpointDiscovery())
    with pytest.raises(PermanentError, match="outside its allowlist"):
        access.client_for(tenant("smn"))
    assert (token.call_count, evil.call_count) == (0, 0)


@respx.mock
def test_a_token_is_kept_per_identity_and_api_host_and_never_sent_to_another_bank(credentials):
    for base in (SMN, SB1):
        respx.get(f"{base}/api/endpoints").respond(200, json={"AppFramework": base, "Identity": LOGIN})
    respx.get(f"{LOGIN}/.well-known/openid-configuration").respond(
        200, json={"token_endpoint": f"{LOGIN}/connect/token"}
    )
    respx.post(f"{LOGIN}/connect/token").mock(
        side_effect=[
            httpx.Response(200, json={"access_token": v, "expires_in": 3600}) for v in ("tok-a", "tok-b")
        ]
    )
    seen: dict[str, set[str]] = {SMN: set(), SB1: set()}

    def record(base: str):
        def answer(request: httpx.Request) -> httpx.Response:
            seen[base].add(request.headers["Authorization"])
            return httpx.Response(200, json=[{"ID": 1, "Code": "NOK"}])

        return answer

    for base in (SMN, SB1):
        respx.get(f"{base}/api/biz/currencycodes").mock(side_effect=record(base))
    access = SpareBank1Access(AppTokens(lambda: credentials), discovery=EndpointDiscovery())
    for bank, tenant_id in (("smn", "ta"), ("sb1", "tb"), ("smn", "tc")):
        access.client_for(tenant(bank, tenant_id)).list("currencycodes", top=1)
    assert seen == {SMN: {"Bearer tok-a"}, SB1: {"Bearer tok-b"}}
    assert access.tokens.minted == 2


@respx.mock
def test_a_token_endpoint_on_another_origin_is_ignored(credentials):
    respx.get(f"{LOGIN}/.well-known/openid-configuration").respond(
        200, json={"token_endpoint": "https://evil.example/connect/token"}
    )
    evil = respx.post("https://evil.example/connect/token").respond(200, json={"access_token": "x"})
    real = respx.post(f"{LOGIN}/connect/token").respond(200, json={"access_token": "tok", "expires_in": 3600})
    tokens = AppTokens(lambda: credentials)
    assert tokens.for_hosts(LOGIN, SMN).access_token() == "tok"
    assert (evil.call_count, real.call_count) == (0, 1)


# ---------------------------------------------------------------- attack-20: parser differentials
@pytest.mark.parametrize(
    "app_framework",
    [
        # urlsplit calls these hosts "...regnskap.smn.no"; a resolver reads "\." as a dot inside a label
        # (the name then sits under smn.no, outside regnskap.smn.no), httpx sends them as they are.
        "https://evil.example\\.regnskap.smn.no",
        "https://evil.example%2f.regnskap.smn.no",
        "https://evil.example;.regnskap.smn.no",
        "https://evil.example%2523.regnskap.smn.no",
        "https://evil.example\t.regnskap.smn.no",  # httpx refuses it at request time: InvalidURL
        "https://evil.example\x00.regnskap.smn.no",
        "https://evil.example\uff0e.regnskap.smn.no",  # fullwidth full stop
        "https://-evil.regnskap.smn.no",
    ],
)
def test_a_listed_bank_host_that_is_no_dns_name_is_refused(app_framework):
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(resolve_bank("smn"), Services(app_framework, LOGIN, None))


@pytest.mark.parametrize(
    "url",
    [
        "https://regnskap.smn.no:99999",
        "https://regnskap.smn.no:443:80",
        "https://evil.example:.regnskap.smn.no",
    ],
)
def test_a_service_map_with_an_unreadable_port_is_a_refusal_not_a_crash(url):
    """urlsplit(...).port raises ValueError: that was an unexpected error (retried), not a named refusal."""
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(resolve_bank("smn"), Services(url, LOGIN, None))
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(resolve_bank("smn"), Services(SMN, LOGIN, url))
    custom = resolve_bank("http://127.0.0.1:9999", custom_urls=True)
    with pytest.raises(PermanentError, match="outside its allowlist"):
        check_endpoints(custom, Services("http://127.0.0.1:99999", "http://127.0.0.1:9999", None))


@pytest.mark.parametrize(
    "app_framework",
    [
        "https://REGNSKAP.SMN.NO",
        "https://regnskap.smn.no.",
        "https://regnskap.smn.no:443",
        "HTTPS://regnskap.smn.no",
    ],
)
def test_spellings_of_the_banks_own_host_are_still_accepted(app_framework):
    assert (
        check_endpoints(resolve_bank("smn"), Services(app_framework, LOGIN, None)).app_framework
        == app_framework
    )


def test_a_redirect_from_the_bank_to_another_host_is_not_followed_with_the_token(credentials):
    """The listed bank answers 302 to another host: httpx must not carry the Authorization header there."""
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{SMN}/api/endpoints").respond(200, json={"AppFramework": SMN, "Identity": LOGIN})
        mock.get(f"{LOGIN}/.well-known/openid-configuration").respond(404)
        mock.post(f"{LOGIN}/connect/token").respond(200, json={"access_token": "tok-smn", "expires_in": 3600})
        mock.get(f"{SMN}/api/init/companies").respond(302, headers={"Location": "https://evil.example/x"})
        evil = mock.route(host="evil.example").respond(200, json=[])
        http = httpx.Client()
        access = SpareBank1Access(
            AppTokens(lambda: credentials, http=http), discovery=EndpointDiscovery(http), http=http
        )
        client = access.client_for(tenant("smn"))
        with pytest.raises(PermanentError):
            client.companies()
        assert not evil.called
