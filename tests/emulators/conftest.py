"""Fixtures for the emulator tests: one Fiken emulator per worker, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators.fiken import FikenEmulator

SLUG = "acme-as"


@pytest.fixture(scope="session")
def fiken_server() -> Iterator[FikenEmulator]:
    emulator = FikenEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def fiken(fiken_server: FikenEmulator) -> Iterator[FikenEmulator]:
    """The emulator with one company (acme-as); the rate rule is off unless a test turns it on."""
    fiken_server.reset()
    fiken_server.latency = 0.0
    fiken_server.rate_rule.enabled = False
    fiken_server.authorize_decision = "approve"
    fiken_server.set_consent()
    fiken_server.oauth.rotate_refresh_tokens = True
    fiken_server.add_company(SLUG, "Acme AS")
    yield fiken_server
    # Whatever a test did, the emulator's own answers must match the spec.
    own = [v for v in fiken_server.contract_violations if v.direction == "response"]
    assert not own, own


@pytest.fixture
def tokens(fiken: FikenEmulator) -> dict:
    return fiken.issue_tokens([SLUG])


@pytest.fixture
def api(fiken: FikenEmulator, tokens: dict) -> Iterator[httpx.Client]:
    """A client on ``/api/v2/companies/acme-as`` with a valid bearer token."""
    with httpx.Client(
        base_url=f"{fiken.api_base_url}/companies/{SLUG}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    ) as client:
        yield client
