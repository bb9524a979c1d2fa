"""Attack on issue #20's "every client error is a 4xx" (connect and self-service functions), behind the
edge (WebhookEdge=cloudfront): hostile bodies, headers, cookies and paths sent by someone who holds a
page session of their own tenant, or by no one in particular. None may answer 5xx.

The functions run as deployed (their app.py, on moto) in a child process: moto's in-process mock patches
botocore for the whole process and would capture a local stack another test runs in this worker."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from momentsync.public_edge import EDGE_HEADER
from tests.edge_functions import LambdaContextStandIn, edge_stack, http_event, load_function, run_in_child

SECRET = "e" * 48
TENANT = "t-1"
# {cookie} and {csrf} are the attacker's own live page session (its own tenant) and its CSRF token.
CASES: list[tuple[str, str, str, str, dict[str, str], str, bool]] = [
    # (name, function, method, path, headers, body, body is base64)
    (
        "page-unicode-tenant-with-live-cookie",
        "selfservice",
        "GET",
        "/tenant/\u00e9t",
        {"cookie": "momentsync_page={cookie}"},
        "",
        False,
    ),
    (
        "page-unicode-tenant-post-with-live-cookie",
        "selfservice",
        "POST",
        "/tenant/\u00e9t/sign-out",
        {"cookie": "momentsync_page={cookie}"},
        "csrf={csrf}",
        False,
    ),
    (
        "page-unicode-csrf",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/sign-out",
        {"cookie": "momentsync_page={cookie}"},
        "csrf=%C3%A9",
        False,
    ),
    (
        "page-unicode-csrf-send-again",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/send-again",
        {"cookie": "momentsync_page={cookie}"},
        "csrf=%E2%9C%93&entity_type=invoice&moment_id=7",
        False,
    ),
    (
        "page-huge-moment-id",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/send-again",
        {"cookie": "momentsync_page={cookie}"},
        "csrf={csrf}&entity_type=invoice&moment_id=" + "9" * 5000,
        False,
    ),
    (
        "page-bad-base64-body",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/sign-out",
        {"cookie": "momentsync_page={cookie}"},
        "!!!not base64",
        True,
    ),
    (
        "page-non-utf8-body",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/sign-out",
        {"cookie": "momentsync_page={cookie}"},
        base64.b64encode(b"csrf=\xff\xfe").decode(),
        True,
    ),
    (
        "page-many-fields",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/emails",
        {"cookie": "momentsync_page={cookie}"},
        "csrf={csrf}&" + "&".join(f"f{i}=1" for i in range(50)),
        False,
    ),
    (
        "page-odd-emails",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/emails",
        {"cookie": "momentsync_page={cookie}"},
        "csrf={csrf}&emails=" + "%00%C3%A9@x%0D%0A" * 300,
        False,
    ),
    (
        "page-open-unicode-token",
        "selfservice",
        "POST",
        f"/tenant/{TENANT}/open",
        {},
        "token=%C3%A9" * 40,
        False,
    ),
    (
        "page-cookie-unicode",
        "selfservice",
        "GET",
        f"/tenant/{TENANT}",
        {"cookie": "momentsync_page=\u00e9\u00e9\u00e9"},
        "",
        False,
    ),
    ("connect-bad-base64", "connect", "POST", f"/connect/fiken/{TENANT}/continue", {}, "%%%", True),
    ("connect-unicode-tenant", "connect", "GET", "/connect/fiken/\u00e9t?token=" + "a" * 43, {}, "", False),
    (
        "connect-decline-with-cookie",
        "connect",
        "GET",
        "/oauth/fiken/callback?error=access_denied&state=" + "a" * 43,
        {"cookie": "momentsync_connect=\u00e9"},
        "",
        False,
    ),
    (
        "connect-choice-unicode",
        "connect",
        "POST",
        "/connect/fiken/company",
        {},
        "choice=%C3%A9&company=%C3%A9",
        False,
    ),
    ("connect-error-empty-state", "connect", "GET", "/oauth/fiken/callback?error=x&state=", {}, "", False),
    # Another page on the same site (Sec-Fetch-Site: same-site: an API of another AWS customer under a
    # shared registrable domain) auto-submitting a victim's link under Referrer-Policy no-referrer, so
    # its Origin is "null" like our own form's: refused before the link is spent.
    (
        "connect-same-site-form-with-null-origin",
        "connect",
        "POST",
        f"/connect/fiken/{TENANT}/continue",
        {"sec-fetch-site": "same-site", "origin": "null"},
        "token={link}",
        False,
    ),
    (
        "connect-link-still-unspent",
        "connect",
        "GET",
        f"/connect/fiken/{TENANT}?token={{link}}",
        {},
        "",
        False,
    ),
]


def _event(method: str, path: str, headers: dict[str, str], body: str, b64: bool) -> dict[str, Any]:
    """Through the edge (its header), as the pages' own forms post."""
    given = {EDGE_HEADER: SECRET, "content-type": "application/x-www-form-urlencoded", **headers}
    return http_event(method, path, given, body, base64_encoded=b64)


_Context = LambdaContextStandIn


def run_attacks() -> None:  # pragma: no cover - runs in the child process
    with edge_stack(SECRET) as aws:
        secrets = aws["secretsmanager"]
        from momentsync.aws.one_time_tokens import DynamoOneTimeTokens
        from momentsync.aws.tenants import DynamoTenantRepository
        from momentsync.connect.links import create_connect_link
        from momentsync.selfservice.service import create_page_link
        from momentsync.tenants import TargetSystem, Tenant

        resource = aws["dynamodb"]
        now = datetime.now(UTC)
        DynamoTenantRepository(resource.Table("tenants")).create(
            Tenant(
                tenant_id=TENANT,
                name="Attacker AS",
                target=TargetSystem.FIKEN,
                moment_company_code="c1",
                webhook_secret_hash="0" * 64,
                created_at=now,
                updated_at=now,
            )
        )
        functions_ = {name: load_function(name) for name in ("connect", "selfservice")}
        page = functions_["selfservice"]
        token = create_page_link(
            DynamoOneTimeTokens(resource.Table("auth")),
            base_url="https://d1.cloudfront.net",
            tenant_id=TENANT,
            ttl=timedelta(hours=1),
        ).url.split("token=", 1)[1]
        opened = page.lambda_handler(
            _event("POST", f"/tenant/{TENANT}/open", {}, f"token={token}", False), _Context()
        )
        assert opened["statusCode"] == 303, opened
        cookie = opened["cookies"][0].split(";", 1)[0].split("=", 1)[1]
        shown = page.lambda_handler(
            _event("GET", f"/tenant/{TENANT}", {"cookie": f"momentsync_page={cookie}"}, "", False), _Context()
        )
        assert shown["statusCode"] == 200, shown
        csrf = shown["body"].split('name=csrf value="', 1)[1].split('"', 1)[0]
        results = {}
        link = create_connect_link(
            DynamoOneTimeTokens(resource.Table("auth")),
            base_url="https://d1.cloudfront.net",
            tenant_id=TENANT,
        ).url.split("token=", 1)[1]
        for name, function, method, path, headers, body, b64 in CASES:
            fill = {k: v.replace("{cookie}", cookie) for k, v in headers.items()}
            body = body.replace("{csrf}", csrf).replace("{link}", link)
            answer = functions_[function].lambda_handler(
                _event(method, path.replace("{link}", link), fill, body, b64), _Context()
            )
            results[name] = {
                "status": answer["statusCode"],
                "body": (answer.get("body") or "")[:300],
                "everything": json.dumps(answer),
            }
        # Behind the edge, what a person is sent to or shown never names the API's own address.
        link2 = create_connect_link(
            DynamoOneTimeTokens(resource.Table("auth")),
            base_url="https://d1.cloudfront.net",
            tenant_id=TENANT,
        ).url.split("token=", 1)[1]
        ours = {"cookie": f"momentsync_page={cookie}", "sec-fetch-site": "same-origin", "origin": "null"}
        for name, function, method, path, headers, body in (
            ("edge-continue", "connect", "POST", f"/connect/fiken/{TENANT}/continue", ours, f"token={link2}"),
            (
                "edge-page-reconnect",
                "selfservice",
                "POST",
                f"/tenant/{TENANT}/reconnect",
                ours,
                f"csrf={csrf}",
            ),
        ):
            answer = functions_[function].lambda_handler(
                _event(method, path, headers, body, False), _Context()
            )
            results[name] = {"status": answer["statusCode"], "body": "", "everything": json.dumps(answer)}
        # A stack that transfers only to SpareBank 1 keeps the Fiken app secret's placeholder: a stranger's
        # POST with a junk link must not reach that check (a 503 counted in ConnectFailed pages the operator).
        secrets.put_secret_value(
            SecretId=os.environ["FIKEN_APP_SECRET_ID"],
            SecretString='{"client_id": "REPLACE_ME", "client_secret": "REPLACE_ME"}',
        )
        functions_["connect"].flow.oauth._app._cached = None
        for name, token in (("fiken-unconfigured-junk-link", "j" * 43), ("fiken-unconfigured-no-link", "")):
            answer = functions_["connect"].lambda_handler(
                _event("POST", f"/connect/fiken/{TENANT}/continue", {}, f"token={token}", False), _Context()
            )
            results[name] = {"status": answer["statusCode"], "body": "", "everything": json.dumps(answer)}
    print("RESULTS " + json.dumps(results))


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, Any]]:
    results, _ = run_in_child("tests.security.test_attack20_client_errors", "run_attacks")
    return results


# The decline callback answers its one page (200) whatever the state and cookie: it reveals nothing.
ANSWERS_A_PAGE = {"connect-decline-with-cookie", "connect-link-still-unspent"}


@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_a_hostile_request_is_a_client_error_never_a_5xx(answers, name):
    answer = answers[name]
    if name in ANSWERS_A_PAGE:
        assert answer["status"] == 200, answer
    else:
        assert 400 <= answer["status"] < 500, answer


def test_behind_the_edge_no_answer_names_the_api_s_own_address(answers):
    """Links, redirects (Fiken's redirect_uri included) and cookies name the distribution only."""
    assert answers["edge-continue"]["status"] == 303
    assert answers["edge-page-reconnect"]["status"] == 200
    assert "d1.cloudfront.net%2Foauth%2Ffiken%2Fcallback" in answers["edge-continue"]["everything"]
    assert "https://d1.cloudfront.net/connect/fiken/" in answers["edge-page-reconnect"]["everything"]
    for name, answer in answers.items():
        assert "execute-api" not in answer["everything"], name


@pytest.mark.parametrize("name", ["fiken-unconfigured-junk-link", "fiken-unconfigured-no-link"])
def test_a_stranger_cannot_page_the_operator_of_a_stack_without_fiken(answers, name):
    assert answers[name]["status"] == 400, answers[name]
