"""Connect Lambda: the browser side of connecting a tenant to Fiken. The flow lives in momentsync.connect."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.connect.flow import ConnectProblem, ConnectRefused
from momentsync.connect.pages import (
    CHOOSE_COMPANY_PATH,
    PAGE_HEADERS,
    authorization_error_page,
    declined_page,
    landing_page,
    landing_page_headers,
    refused_page,
    result_page,
    unavailable_page,
)
from momentsync.errors import TransientError
from momentsync.http_cookies import request_cookie
from momentsync.observability import logger, metrics, tracer
from momentsync.public_edge import EdgeGate, public_base_url, read_edge_secret, refusal
from momentsync.settings import connect_settings
from momentsync.wiring.connect import build_connect_flow

CALLBACK_PATH = "/oauth/fiken/callback"
BINDING_COOKIE = "momentsync_connect"

settings = connect_settings()
flow = build_connect_flow(settings)
edge = EdgeGate.from_secret(settings.edge_origin_secret_arn, read_edge_secret)
app = APIGatewayHttpResolver()


@app.get("/connect/fiken/<tenant_id>")
def connect_landing(tenant_id: str) -> Response[str]:
    """Names the tenant and asks to continue; a GET never spends the link (mail scanners open links)."""
    landing = flow.landing(tenant_id, app.current_event.get_query_string_value("token"))
    headers = landing_page_headers(flow.oauth.authorize_origin)
    return Response(status_code=200, headers=headers, body=landing_page(landing))


@app.post("/connect/fiken/<tenant_id>/continue")
def start_connect(tenant_id: str) -> Response[str]:
    _refuse_cross_site()
    redirect = flow.start(tenant_id, _first(_form(), "token"), redirect_uri=redirect_uri())
    metrics.add_metric(name="ConnectStarted", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=303,
        headers={"Location": redirect.url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        cookies=[_binding_cookie(redirect.browser_binding, redirect.max_age_seconds)],
        body="",
    )


@app.get(CALLBACK_PATH)
def oauth_callback() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    if query.get("error"):
        metrics.add_metric(name="ConnectDeclined", unit=MetricUnit.Count, value=1)
        # Spent only by the browser that started (the cookie); the page names no one either way.
        flow.decline(state=query.get("state"), browser_binding=_cookie(BINDING_COOKIE))
        if query["error"] == "access_denied":
            return _page(200, declined_page())
        logger.warning("fiken authorization ended with an error", extra={"error": query["error"][:40]})
        return _page(400, authorization_error_page())
    result = flow.complete(
        code=query.get("code"), state=query.get("state"), browser_binding=_cookie(BINDING_COOKIE)
    )
    metrics.add_metric(name=f"Connect{type(result).__name__}", unit=MetricUnit.Count, value=1)
    response = _page(200, result_page(result))
    response.cookies.append(_binding_cookie("", 0))  # spent with the state
    return response


@app.post(CHOOSE_COMPANY_PATH)
def choose_company() -> Response[str]:
    _refuse_cross_site()
    form = _form()
    result = flow.choose(choice_token=_first(form, "choice"), slug=_first(form, "company"))
    metrics.add_metric(name="ConnectConnected", unit=MetricUnit.Count, value=1)
    return _page(200, result_page(result))


@app.exception_handler(ConnectRefused)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def refused(exc: ConnectRefused) -> Response[str]:
    logger.info("connect request refused", extra={"problem": exc.problem.value})
    metrics.add_metric(name="ConnectRefused", unit=MetricUnit.Count, value=1)
    return _page(400, refused_page(exc.problem))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def unexpected_error(exc: Exception) -> Response[str]:
    # The type only: messages of HTTP or boto3 errors can echo URLs with codes and states.
    log = logger.warning if isinstance(exc, TransientError) else logger.error
    log("connect request failed", extra={"error_type": type(exc).__name__})
    metrics.add_metric(name="ConnectFailed", unit=MetricUnit.Count, value=1)
    return _page(503, unavailable_page())


def redirect_uri() -> str:
    """Where Fiken sends the browser back; must equal the URI registered for the app in Fiken.

    The edge's address when the stack has one, else the request's own API domain (https on every
    public host, whatever X-Forwarded-Proto says; plain http only on the local stack).
    """
    event = app.current_event
    base = public_base_url(
        event.request_context.domain_name, event.headers.get("x-forwarded-proto"), settings.public_base_url
    )
    return f"{base}{CALLBACK_PATH}"


def _binding_cookie(value: str, max_age: int) -> Cookie:
    """Only the callback sees it; Lax still sends it on Fiken's top-level redirect back to us."""
    return Cookie(
        name=BINDING_COOKIE,
        value=value,
        path=CALLBACK_PATH,
        secure=redirect_uri().startswith("https://"),
        http_only=True,
        same_site=SameSite.LAX_MODE,
        max_age=max_age,
    )


def _cookie(name: str) -> str | None:
    return request_cookie(app.current_event, name)


def _refuse_cross_site() -> None:
    """Our POSTs come from our own pages. Another site's auto-submitting form (someone who holds a valid
    link making a victim's browser, logged in to Fiken, approve it) is refused before the link is spent.

    ``Sec-Fetch-Site`` says where the form was (browsers set it: only ``same-origin`` is ours; ``Origin``
    is "null" on our own POSTs under ``Referrer-Policy: no-referrer``, so only a real foreign origin is
    refused). Clients that send
    neither (curl, old browsers) pass: the link remains the credential.
    """
    headers = app.current_event.headers
    site = (headers.get("sec-fetch-site") or "").lower()
    origin = headers.get("origin") or ""
    ours = redirect_uri().removesuffix(CALLBACK_PATH)
    # Only our own page posts here: "same-site" is another origin too (another API under a registrable
    # domain we share), and its page can make its Origin "null" with Referrer-Policy: no-referrer.
    if site not in ("", "same-origin", "none") or (
        origin and origin != "null" and origin.rstrip("/") != ours
    ):
        raise ConnectRefused(ConnectProblem.CROSS_SITE)


def _form() -> dict[str, list[str]]:
    """Our forms have two fields: anything unparseable or larger is a client error (400), not a 5xx."""
    try:
        return parse_qs(
            app.current_event.decoded_body or "", max_num_fields=10, strict_parsing=False, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        raise ConnectRefused(ConnectProblem.MALFORMED_FORM) from None


def _page(status_code: int, html: str) -> Response[str]:
    return Response(status_code=status_code, headers=dict(PAGE_HEADERS), body=html)


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


# log_event=False pinned: POWERTOOLS_LOGGER_LOG_EVENT=true would log raw paths (webhook secrets, link tokens).
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True, log_event=False
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not edge.admits(event.get("headers")):
        metrics.add_metric(name="EdgeSkipped", unit=MetricUnit.Count, value=1)
        return refusal()
    return app.resolve(event, context)
