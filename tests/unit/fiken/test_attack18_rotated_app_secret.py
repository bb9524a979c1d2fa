"""Attack on issue 18 (a cache holding an old credential): the Fiken app's client secret is cached by the
processor (5 min); after an operator rotates it, Fiken answers the old one 401 invalid_client. The token
endpoint call reads the app secret again once, instead of failing the event as a permanent error."""

from __future__ import annotations

import httpx
import pytest
import respx
from pydantic import SecretStr

from momentsync.connectors.fiken.oauth import (
    FikenAppCredentials,
    FikenOAuthClient,
    InvalidGrant,
    OAuthRejected,
)

BASE = "https://fiken.test"
GRANT = {
    "access_token": "new-access",
    "refresh_token": "new-refresh",
    "expires_in": 3600,
    "token_type": "bearer",
}


class RotatingApp:
    def __init__(self, stored: str) -> None:
        self.cached, self.stored, self.fresh_reads = "old-secret", stored, 0

    def get(self, *, fresh: bool = False) -> FikenAppCredentials:
        if fresh:
            self.fresh_reads += 1
            self.cached = self.stored
        return FikenAppCredentials(client_id="app", client_secret=SecretStr(self.cached))


def token_endpoint(request: httpx.Request, accepted: str) -> httpx.Response:
    if request.headers["Authorization"] == httpx.BasicAuth("app", accepted)._auth_header:
        return httpx.Response(200, json=GRANT)
    return httpx.Response(401, json={"error": "invalid_client", "error_description": "bad client"})


def test_a_refused_cached_app_secret_is_read_again_and_the_new_one_used_once():
    app = RotatingApp(stored="new-secret")
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/oauth/token").mock(side_effect=lambda r: token_endpoint(r, "new-secret"))
        grant = FikenOAuthClient(BASE, app).refresh("refresh-1")
    assert grant.access_token.get_secret_value() == "new-access"
    assert route.call_count == 2 and app.fresh_reads == 1


def test_an_app_secret_refused_again_after_the_re_read_is_a_rejection_without_a_loop():
    app = RotatingApp(stored="old-secret")  # nothing rotated: the secret itself is wrong
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/oauth/token").mock(side_effect=lambda r: token_endpoint(r, "other"))
        with pytest.raises(OAuthRejected) as refused:
            FikenOAuthClient(BASE, app).refresh("refresh-1")
    assert refused.value.error == "invalid_client"
    assert route.call_count == 1 and app.fresh_reads == 1


def test_invalid_grant_reads_no_app_secret_again():
    app = RotatingApp(stored="new-secret")
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/oauth/token").respond(400, json={"error": "invalid_grant"})
        with pytest.raises(InvalidGrant):
            FikenOAuthClient(BASE, app).refresh("refresh-1")
    assert route.call_count == 1 and app.fresh_reads == 0
