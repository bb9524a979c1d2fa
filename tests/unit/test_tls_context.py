"""Outbound HTTPS clients share one TLS context: loading the CA bundle per client cost ~40 ms of CPU
each, twice per tenant at its first event in an execution environment (momentsync.tls)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from momentsync.connectors.fiken.client import FikenClient
from momentsync.connectors.fiken.oauth import FikenOAuthClient
from momentsync.connectors.fiken.pacing import RequestPacer
from momentsync.moment.client import MomentClient
from momentsync.tls import tls_context


def context_of(http: httpx.Client) -> ssl.SSLContext:
    # httpx -> httpcore: the connection pool wraps every socket with this context.
    transport: Any = http._transport
    return transport._pool._ssl_context


def test_moment_and_fiken_clients_of_many_tenants_use_one_tls_context():
    contexts = [context_of(MomentClient(company, "sk-key")._http) for company in ("acme", "bravo")]
    contexts += [
        context_of(FikenClient(company_slug=slug, token_provider=object(), pacer=RequestPacer(0.0))._http)  # type: ignore[arg-type]
        for slug in ("acme-as", "bravo-as")
    ]
    contexts.append(context_of(FikenOAuthClient("https://fiken.no", object())._http))  # type: ignore[arg-type]
    assert all(context is tls_context() for context in contexts)


def test_the_shared_context_still_verifies_certificates_and_host_names():
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] > 0
