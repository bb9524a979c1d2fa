"""The per-tenant HTTPS clients share one TLS context (issue 18: ~20 ms of CPU per client otherwise)."""

from __future__ import annotations

import ssl

import httpx

from momentsync.connectors.fiken.auth import StaticTokenProvider
from momentsync.connectors.fiken.client import FikenClient
from momentsync.connectors.sparebank1.client import SpareBank1Client
from momentsync.moment.client import MomentClient
from momentsync.tls import client_tls_context


def _context_of(http: httpx.Client) -> ssl.SSLContext:
    # httpx keeps the context in its transport's connection pool; no public accessor exists.
    return http._transport._pool._ssl_context  # type: ignore[attr-defined]  # noqa: SLF001


def test_tenant_clients_share_one_tls_context() -> None:
    tokens = StaticTokenProvider("token")
    clients = [
        FikenClient(company_slug="a", token_provider=tokens)._http,  # noqa: SLF001
        FikenClient(company_slug="b", token_provider=tokens)._http,  # noqa: SLF001
        MomentClient("acme", "key")._http,  # noqa: SLF001
        MomentClient("other", "key")._http,  # noqa: SLF001
        SpareBank1Client(base_url="https://bank.example", company_key="c", tokens=tokens)._http,  # type: ignore[arg-type]  # noqa: SLF001
    ]
    assert {id(_context_of(http)) for http in clients} == {id(client_tls_context())}


def test_shared_context_verifies_like_httpx_default() -> None:
    context = client_tls_context()
    default = httpx.create_ssl_context()
    assert context.verify_mode == default.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname and default.check_hostname
    assert context.cert_store_stats()["x509_ca"] == default.cert_store_stats()["x509_ca"] > 0
