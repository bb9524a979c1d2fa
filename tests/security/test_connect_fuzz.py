"""Fuzzing the connect function (#20): whatever a stranger sends to the connect routes is a 4xx (or
the landing page for a real link), never a 5xx: a 5xx pages the operator and says "retry"."""

from __future__ import annotations

import os
import string
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.http_api import Route, build_event
from local.lambda_runtime import LocalLambdaContext

EXAMPLES = int(os.environ.get("MOMENTSYNC_FUZZ_EXAMPLES", "150"))
ROUTES = {
    "landing": Route("GET", "/connect/fiken/{tenant_id}", lambda *_: {}),
    "continue": Route("POST", "/connect/fiken/{tenant_id}/continue", lambda *_: {}),
    "callback": Route("GET", "/oauth/fiken/callback", lambda *_: {}),
    "choose": Route("POST", "/connect/fiken/company", lambda *_: {}),
}
words = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%&=+ ", max_size=60)
query_keys = st.sampled_from(["token", "code", "state", "error", "error_description", "x"])
queries = st.lists(st.tuples(query_keys, words), max_size=5).map(
    lambda pairs: "&".join(f"{k}={quote(v)}" for k, v in pairs)
)
form_bodies = st.one_of(
    st.binary(max_size=400),
    st.lists(st.tuples(st.sampled_from(["token", "choice", "company", "f"]), words), max_size=15).map(
        lambda pairs: "&".join(f"{k}={quote(v)}" for k, v in pairs).encode()
    ),
)
cookies = st.one_of(st.none(), words.map(lambda v: f"momentsync_connect={v}"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(sorted(ROUTES)),
    tenant=st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=70),
    query=queries,
    body=form_bodies,
    cookie=cookies,
)
def test_no_request_to_the_connect_routes_gets_a_5xx(paused_stack, which, tenant, query, body, cookie):
    route = ROUTES[which]
    path = route.path.replace("{tenant_id}", tenant)
    headers = {"content-type": "application/x-www-form-urlencoded", "host": "localhost"}
    if cookie:
        headers["cookie"] = cookie
    event = build_event(
        route,
        route.method,
        path,
        query,
        headers,
        body if route.method == "POST" else b"",
        {"tenant_id": tenant} if "{tenant_id}" in route.path else {},
        "127.0.0.1",
    )
    response = paused_stack.handlers["ConnectFunction"](event, LocalLambdaContext("ConnectFunction"))
    assert response["statusCode"] in {200, 400}, (
        which,
        response["statusCode"],
        response.get("body", "")[:300],
    )
