"""Self-service Lambda: the tenant's own page. What it does lives in momentsync.selfservice."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext

from momentsync.connect.links import OneTimeTokenRejected
from momentsync.http_cookies import request_cookie
from momentsync.observability import logger, metrics, tracer
from momentsync.public_edge import EdgeGate, public_base_url, read_edge_secret, refusal
from momentsync.selfservice.pages import PAGE_HEADERS, open_page, refused_page, signed_out_page, tenant_page
from momentsync.selfservice.service import PageRefused
from momentsync.selfservice.sessions import PageSession
from momentsync.selfservice.texts import LANGUAGES, Language
from momentsync.settings import selfservice_settings
from momentsync.wiring.selfservice import build_self_service

SESSION_COOKIE = "momentsync_page"

settings = selfservice_settings()
service = build_self_service(settings)
edge = EdgeGate.from_secret(settings.edge_origin_secret_arn, read_edge_secret)
app = APIGatewayHttpResolver()


class BadForm(Exception):
    """A form body the page never sends (too many fields)."""


class NoSession(Exception):
    """No live session for this tenant (none, expired, another tenant's) or a wrong CSRF token."""


@app.get("/tenant/<tenant_id>")
def show(tenant_id: str) -> Response[str]:
    token = app.current_event.get_query_string_value("token")
    if token:  # the emailed link: a button to press, the token spent only by that POST
        return _page(200, open_page(tenant_id, token, _language()))
    session = _session(tenant_id)
    return _page(200, tenant_page(service.picture(session), session.csrf_token, _language()))


@app.post("/tenant/<tenant_id>/open")
def open_link(tenant_id: str) -> Response[str]:
    try:
        session = service.open_link(tenant_id, _form("token"))
    except OneTimeTokenRejected:
        metrics.add_metric(name="PageLinkRefused", unit=MetricUnit.Count, value=1)
        return _page(403, refused_page(_language()))
    metrics.add_metric(name="PageOpened", unit=MetricUnit.Count, value=1)
    # See-other to the plain page: from here on no secret is in the URL, only in the cookie.
    return Response(
        status_code=303,
        headers={"Location": f"/tenant/{tenant_id}?lang={_language()}", "Cache-Control": "no-store"},
        cookies=[_session_cookie(tenant_id, session.session_id, settings.page_session_minutes * 60)],
        body="",
    )


@app.post("/tenant/<tenant_id>/emails")
def change_emails(tenant_id: str) -> Response[str]:
    session = _session(tenant_id, csrf=True)
    try:
        service.change_emails(session, (_form("emails") or "").splitlines())
    except PageRefused as exc:
        return _tenant_page(session, error=exc.reason, status_code=400)
    return _tenant_page(session, notice_key="saved")


@app.post("/tenant/<tenant_id>/send-again")
def send_again(tenant_id: str) -> Response[str]:
    session = _session(tenant_id, csrf=True)
    moment_id = _form("moment_id") or ""
    try:
        # "²".isdigit(), yet int("²") fails; more than 4300 digits make int() raise ValueError (a 503).
        if not (moment_id.isascii() and moment_id.isdigit() and len(moment_id) <= 19):
            raise PageRefused("that record is not among the failed ones")
        service.send_again(session, _form("entity_type") or "", int(moment_id))
    except PageRefused as exc:
        return _tenant_page(session, error=exc.reason, status_code=400)
    metrics.add_metric(name="PageSendAgain", unit=MetricUnit.Count, value=1)
    return _tenant_page(session, notice_key="queued")


@app.post("/tenant/<tenant_id>/reconnect")
def reconnect(tenant_id: str) -> Response[str]:
    session = _session(tenant_id, csrf=True)
    try:
        link = service.reconnect_link(session, base_url=_base_url())
    except PageRefused as exc:
        return _tenant_page(session, error=exc.reason, status_code=400)
    return _tenant_page(session, reconnect_url=link.url)


@app.post("/tenant/<tenant_id>/sign-out")
def sign_out(tenant_id: str) -> Response[str]:
    session = _session(tenant_id, csrf=True)
    service.sign_out(session)
    response = _page(200, signed_out_page(_language()))
    response.cookies.append(_session_cookie(tenant_id, "", 0))
    return response


@app.exception_handler(NoSession)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def no_session(_exc: NoSession) -> Response[str]:
    metrics.add_metric(name="PageRefused", unit=MetricUnit.Count, value=1)
    return _page(403, refused_page(_language()))


@app.exception_handler(BadForm)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def bad_form(_exc: BadForm) -> Response[str]:
    return Response(status_code=400, headers=dict(PAGE_HEADERS), body="<!doctype html><p>Bad request.</p>")


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]  # Powertools leaves it unannotated
def unexpected_error(exc: Exception) -> Response[str]:
    logger.error("self-service request failed", extra={"error_type": type(exc).__name__})
    return Response(
        status_code=503, headers=dict(PAGE_HEADERS), body="<!doctype html><p>Try again shortly.</p>"
    )


def _session(tenant_id: str, *, csrf: bool = False) -> PageSession:
    session = service.find_session(tenant_id, _cookie(SESSION_COOKIE))
    if session is None or (csrf and not session.csrf_matches(_form("csrf"))):
        raise NoSession()
    return session


def _tenant_page(
    session: PageSession,
    *,
    notice_key: str | None = None,
    error: str | None = None,
    reconnect_url: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    from momentsync.selfservice.texts import say

    language = _language()
    html = tenant_page(
        service.picture(session),
        session.csrf_token,
        language,
        notice=say(notice_key, language) if notice_key else None,
        error=error,
        reconnect_url=reconnect_url,
    )
    return _page(status_code, html)


def _session_cookie(tenant_id: str, value: str, max_age: int) -> Cookie:
    """HttpOnly (no script reads it), Strict (no other site's form sends it), under this tenant's path."""
    return Cookie(
        name=SESSION_COOKIE,
        value=value,
        path=f"/tenant/{tenant_id}",
        secure=_base_url().startswith("https://"),
        http_only=True,
        same_site=SameSite.STRICT_MODE,
        max_age=max_age,
    )


def _language() -> Language:
    asked = app.current_event.get_query_string_value("lang")
    for language in LANGUAGES:
        if asked == language:
            return language
    accepted = app.current_event.headers.get("accept-language", "")
    return "en" if accepted.lower().startswith("en") else "nb"


def _form(name: str) -> str | None:
    try:
        values = parse_qs(app.current_event.decoded_body or "", max_num_fields=20).get(name)
    except ValueError as exc:  # more fields than any of the page's forms has
        raise BadForm() from exc
    return values[0] if values else None


def _cookie(name: str) -> str | None:
    return request_cookie(app.current_event, name)


def _base_url() -> str:
    """The session cookie's Secure flag and the reconnect link follow it (momentsync.public_edge)."""
    event = app.current_event
    return public_base_url(
        event.request_context.domain_name, event.headers.get("x-forwarded-proto"), settings.public_base_url
    )


def _page(status_code: int, html: str) -> Response[str]:
    return Response(status_code=status_code, headers=dict(PAGE_HEADERS), body=html)


# log_event=False pinned: the raw event holds the page's one-time token and session cookie.
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
