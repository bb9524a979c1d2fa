"""``SpareBank1Client``: the Unimicro platform's REST API over httpx, for one company (``CompanyKey``).

What the platform's behaviour demands (docs/reference/sparebank1.md §3):

- Every business call carries ``Authorization: Bearer`` and ``CompanyKey``; ``/api/init/companies``
  needs only the token.
- Lists are bare JSON arrays, paged with ``top``/``skip`` (no total count, a short page is the last);
  query parameters have no ``$``. A filter on an unknown field returns everything, so callers re-check
  the key on every row (``find``'s ``match``).
- 408, 429 and 5xx are retried with backoff (429 honours ``Retry-After``) for GET and PUT; a POST
  (create, book, transition) that may have been executed is never repeated: ``SpareBank1AmbiguousWrite``
  tells the caller to look up by natural key first. A 500 naming a FOREIGN KEY is the platform's answer
  to a number where an ID belongs: permanent, reported as "likely wrong id" with the field.
- 401: mint a token once more and repeat; a second 401, or a 403 (the app is not activated for the
  company: "Du har ikke tilgang til …"), is a tenant-level error, never retried blindly.
- 400: ``_validationResults``, ``Message`` and ``Messages[]`` become one readable reason.

Tokens appear in no message, log line or repr.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict

import httpx

from momentsync.connectors.sparebank1.models import CompanySummary, ErrorBody, dumps, loads
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError
from momentsync.observability import logger
from momentsync.ports import TokenSource
from momentsync.retry_policy import Retry, RetryPolicy, may_repeat, retry_after_seconds, scrub
from momentsync.tls import client_tls_context

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
PAGE_SIZE = 100
MAX_PAGES = 1_000
MAX_MESSAGE_CHARS = 500
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
REPEATABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})
NOT_EXECUTED = frozenset({429})
NOT_ACTIVATED = re.compile(r"du har ikke tilgang", re.IGNORECASE)
_FOREIGN_KEY = re.compile(r"FOREIGN KEY", re.IGNORECASE)
_FK_FIELD = re.compile(r"\((\w+ID)\s*=|FK_\w+?_\w+?_(\w+ID)\b|column '(\w+ID)'")

ACTIVATION_REMEDY = (
    "Ask the customer to activate momentsync (Moment Team) for this company in the bank's marketplace "
    "(Markedsplass > Integrasjoner) and to check the company key, then resume the tenant"
)
UNAUTHORIZED_REMEDY = (
    "Check that the app's certificate in SpareBank1AppSecret is the one registered for the client id, "
    "and that the app is activated for the company; then resume the tenant"
)


# Rows as the platform lists them (an alias: inside SpareBank1Client, ``list`` names its method).
Rows = list[dict[str, Any]]


# ---------------------------------------------------------------- errors
class SpareBank1FailureContext(TypedDict):
    """The keyword arguments every SpareBank1Failure takes: where it happened and what was said."""

    method: str
    path: str
    status: int | None
    platform_message: str | None


class SpareBank1Failure(Exception):
    """Mixed into every error this client raises. ``status`` is None when no response came."""

    method: str
    path: str
    status: int | None
    platform_message: str | None

    def __init__(
        self,
        reason: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        platform_message: str | None = None,
    ) -> None:
        super().__init__(reason, detail=platform_message)  # type: ignore[call-arg]  # the SyncError base
        self.method, self.path, self.status, self.platform_message = method, path, status, platform_message


class SpareBank1Unavailable(SpareBank1Failure, TransientError):
    """408/429/5xx or network trouble on a repeatable request, after every attempt."""


class SpareBank1AmbiguousWrite(SpareBank1Failure, TransientError):
    """A POST may or may not have been executed: look up by natural key before writing again."""


class SpareBank1ValidationError(SpareBank1Failure, PermanentError):
    """400: the platform refused the content; ``fields`` names the properties it complained about."""

    fields: frozenset[str] = frozenset()


class SpareBank1ForeignKeyError(SpareBank1Failure, PermanentError):
    """500 naming a FOREIGN KEY: an ID that does not exist (usually a number sent where an ID belongs)."""


class SpareBank1NotFound(SpareBank1Failure, PermanentError):
    """404 (the platform may answer 401 for unknown routes too)."""


class SpareBank1Rejected(SpareBank1Failure, PermanentError):
    """Another 4xx, or an answer that is not what the platform documents."""


class SpareBank1TenantError(SpareBank1Failure, TenantLevelError):
    """401 after minting a new token, or 403: someone must act (activation, certificate)."""

    def __init__(self, problem: TenantProblem, reason: str, *, remedy: str, **context: Any) -> None:
        TenantLevelError.__init__(self, problem, reason, remedy=remedy)
        self.method = context["method"]
        self.path = context["path"]
        self.status = context.get("status")
        self.platform_message = context.get("platform_message")


# ---------------------------------------------------------------- the client
class SpareBank1Client:
    def __init__(
        self,
        *,
        base_url: str,
        company_key: str,
        tokens: TokenSource,
        http: httpx.Client | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.company_key = company_key
        self._tokens = tokens
        self._http = http or httpx.Client(timeout=DEFAULT_TIMEOUT, verify=client_tls_context())
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"SpareBank1Client(base_url={self.base_url!r})"

    # ------------------------------------------------------------ company access
    def companies(self) -> list[CompanySummary]:
        """``GET /api/init/companies``: the companies our token may act on (no CompanyKey)."""
        data = self._request("GET", "/api/init/companies", company=False)
        rows = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
        return [CompanySummary.model_validate(row) for row in rows if isinstance(row, dict)]

    # ------------------------------------------------------------ biz: reading
    def get(self, route: str, record_id: int, *, expand: str | None = None) -> dict[str, Any]:
        data = self._request("GET", f"/api/biz/{route}/{record_id}", params=_params(expand=expand))
        if not isinstance(data, dict):
            raise self._odd("GET", f"/api/biz/{route}/{{id}}", "not an object")
        return data

    def list(
        self,
        route: str,
        *,
        filter: str | None = None,  # noqa: A002 - the platform's parameter name
        select: str | None = None,
        expand: str | None = None,
        orderby: str | None = None,
        top: int = PAGE_SIZE,
        skip: int = 0,
    ) -> Rows:
        params = _params(filter=filter, select=select, expand=expand, orderby=orderby, top=top, skip=skip)
        data = self._request("GET", f"/api/biz/{route}", params=params)
        if not isinstance(data, list):
            raise self._odd("GET", f"/api/biz/{route}", "not a JSON array")
        return [row for row in data if isinstance(row, dict)]

    def list_all(self, route: str, **query: Any) -> Rows:
        """Every page (``top``/``skip`` until a short page): the default page is not the whole list."""
        rows: Rows = []
        for page in range(MAX_PAGES):
            batch = self.list(route, top=PAGE_SIZE, skip=page * PAGE_SIZE, **query)
            rows.extend(batch)
            if len(batch) < PAGE_SIZE:
                return rows
        raise self._odd("GET", f"/api/biz/{route}", f"more than {MAX_PAGES} pages")

    def find(
        self,
        route: str,
        filter: str,
        match: Callable[[dict[str, Any]], bool],
        **query: Any,  # noqa: A002
    ) -> Rows:
        """Rows matching ``filter``, re-checked with ``match`` (an unknown filter field returns all rows)."""
        return [row for row in self.list_all(route, filter=filter, **query) if match(row)]

    # ------------------------------------------------------------ biz: writing
    def create(self, route: str, body: Any) -> dict[str, Any]:
        data = self._request("POST", f"/api/biz/{route}", body=body)
        if not isinstance(data, dict):
            raise self._odd("POST", f"/api/biz/{route}", "not an object")
        return data

    def update(self, route: str, record_id: int, body: Any) -> dict[str, Any]:
        data = self._request("PUT", f"/api/biz/{route}/{record_id}", body=body)
        return data if isinstance(data, dict) else {}

    def action(
        self,
        method: str,
        route: str,
        action: str,
        *,
        record_id: int | None = None,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        path = f"/api/biz/{route}" + (f"/{record_id}" if record_id is not None else "")
        return self._request(method, path, params={"action": action, **(params or {})}, body=body)

    # ------------------------------------------------------------ transport
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        company: bool = True,
    ) -> Any:
        """One logical request: retries where safe, one new token after a 401; parsed JSON or an error."""
        # The template (ids replaced) is what errors and logs show.
        template = re.sub(r"/\d+(?=/|$)", "/{id}", path)
        where = f"{method} {template}" + (
            f"?action={params['action']}" if params and "action" in params else ""
        )
        content = dumps(body) if body is not None else None
        used = [self._tokens.access_token()]
        minted_again = False

        def attempt(number: int) -> Any:
            nonlocal minted_again
            token = used[-1]
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if company:
                headers["CompanyKey"] = self.company_key
            if content is not None:
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                response = self._http.request(
                    method, self.base_url + path, params=params, content=content, headers=headers
                )
            except httpx.RequestError as exc:
                self.requests_sent += 1
                what = f"{type(exc).__name__}"
                not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                if not may_repeat(method, repeatable=REPEATABLE_METHODS, sent=not not_sent):
                    raise self._ambiguous(method, template, where, None, what) from None
                raise Retry(
                    what,
                    final=SpareBank1Unavailable(
                        f"SpareBank 1 unreachable for {where} after {number} attempts ({what})",
                        method=method,
                        path=template,
                    ),
                ) from None
            self.requests_sent += 1
            status = response.status_code
            logger.debug(
                "sparebank1 request",
                extra={"where": where, "status": status, "ms": int((time.perf_counter() - started) * 1000)},
            )
            if 200 <= status < 300:
                try:
                    return loads(response.content) if response.content.strip() else None
                except ValueError:
                    # Executed, but the answer (a proxy's or maintenance page?) cannot be read: a POST
                    # may have made a record we cannot name, so it is ambiguous, never repeated.
                    what = f"{status} with a body that is not JSON"
                    if not may_repeat(method, repeatable=REPEATABLE_METHODS, sent=True):
                        raise self._ambiguous(method, template, where, status, what) from None
                    raise Retry(
                        what,
                        status=status,
                        final=SpareBank1Unavailable(
                            f"SpareBank 1 answered {where} with {what} after {number} attempts",
                            method=method,
                            path=template,
                            status=status,
                            platform_message=None,
                        ),
                    ) from None
            error = _error_body(response)
            message = scrub(readable_reason(error) or response.text.strip()[:MAX_MESSAGE_CHARS], used) or None
            context: SpareBank1FailureContext = {
                "method": method,
                "path": template,
                "status": status,
                "platform_message": message,
            }
            if status == 401 and not minted_again:
                # Once: a token the platform refuses is minted again and the request repeated at once.
                minted_again = True
                used.append(self._tokens.mint_again(token))
                raise Retry("401: token minted again", free=True)
            if status == 401:
                raise SpareBank1TenantError(
                    TenantProblem.NEEDS_REAUTH,
                    f"SpareBank 1 refused momentsync's token for {where} even after minting a new one",
                    remedy=UNAUTHORIZED_REMEDY,
                    **context,
                )
            if status == 403:
                activation = bool(NOT_ACTIVATED.search(message or ""))
                raise SpareBank1TenantError(
                    TenantProblem.API_ACCESS_MISSING,
                    (
                        "momentsync is not activated for this SpareBank 1 company"
                        if activation
                        else f"SpareBank 1 denied access to the company ({where}, 403)"
                    )
                    + (f": {message}" if message else ""),
                    remedy=ACTIVATION_REMEDY,
                    **context,
                )
            if status == 500 and _FOREIGN_KEY.search(_all_text(error, response)):
                field = foreign_key_field(_all_text(error, response))
                raise SpareBank1ForeignKeyError(
                    f"SpareBank 1 rejected {where}: {field or 'a reference'} points to nothing "
                    "(likely wrong id: a number sent where the platform's internal ID belongs)",
                    **context,
                )
            if status in RETRYABLE:
                # 429 means "not executed": a POST may repeat it; any other may have been executed.
                if not may_repeat(
                    method, repeatable=REPEATABLE_METHODS, sent=True, status=status, not_executed=NOT_EXECUTED
                ):
                    raise self._ambiguous(method, template, where, status, message)
                raise Retry(
                    str(status),
                    status=status,
                    retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                    final=SpareBank1Unavailable(
                        f"SpareBank 1 answered {status} to {where} after {number} attempts"
                        + (f": {message}" if message else ""),
                        **context,
                    ),
                )
            said = f": {message}" if message else ""
            if status == 400:
                failure = SpareBank1ValidationError(f"SpareBank 1 rejected {where}{said}", **context)
                failure.fields = frozenset((error.validation_results or {}) if error else ())
                raise failure
            if status == 404:
                raise SpareBank1NotFound(f"SpareBank 1 found nothing at {where}{said}", **context)
            raise SpareBank1Rejected(f"SpareBank 1 refused {where} ({status}){said}", **context)

        def on_retry(retry: Retry, number: int, delay: float) -> None:
            logger.warning(
                "sparebank1 request retried",
                extra={
                    "where": where,
                    "attempt": number,
                    "why": retry.what,
                    "delay_seconds": round(delay, 3),
                },
            )

        policy = RetryPolicy(
            max_attempts=self._max_attempts,
            backoff_base=self._backoff_base,
            backoff_cap=self._backoff_cap,
            retry_after_cap=self._backoff_cap,  # a Retry-After is honoured up to the cap of our own backoff
            jitter=self._rng.random,  # full jitter
            sleep=self._sleep,
        )
        return policy.run(attempt, on_retry=on_retry)

    @staticmethod
    def _ambiguous(
        method: str, template: str, where: str, status: int | None, what: str | None
    ) -> SpareBank1AmbiguousWrite:
        failure = str(status) if status is not None else "no response"
        return SpareBank1AmbiguousWrite(
            f"{where} may or may not have been executed by SpareBank 1 ({failure}"
            + (f": {what}" if what else "")
            + "); it is looked up by its natural key before anything is written again",
            method=method,
            path=template,
            status=status,
            platform_message=what if status is not None else None,
        )

    @staticmethod
    def _odd(method: str, template: str, what: str) -> SpareBank1Rejected:
        return SpareBank1Rejected(
            f"unexpected answer from SpareBank 1 to {method} {template}: {what}", method=method, path=template
        )


# ---------------------------------------------------------------- error bodies
def _error_body(response: httpx.Response) -> ErrorBody | None:
    try:
        data = loads(response.content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return ErrorBody.model_validate(data)
    except ValueError:
        return None


def readable_reason(error: ErrorBody | None) -> str | None:
    """One sentence from ``_validationResults``, ``Messages[]`` and ``Message`` (duplicates dropped)."""
    if error is None:
        return None
    parts: list[str] = []
    for prop, results in (error.validation_results or {}).items():
        for result in results:
            if result.Message:
                text = result.Message
                parts.append(text if not prop or prop in text else f"{prop}: {text}")
    for result in error.Messages or []:
        if result.Message:
            parts.append(result.Message)
    for said in (error.Message, error.message):
        if said:
            parts.append(said)
    unique = list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))
    if not unique:
        return None
    # "Validation failed" adds nothing once the individual problems are listed.
    if len(unique) > 1:
        unique = [p for p in unique if p.lower() != "validation failed"] or unique
    return "; ".join(unique)[:MAX_MESSAGE_CHARS]


def foreign_key_field(text: str) -> str | None:
    match = _FK_FIELD.search(text)
    if not match:
        return None
    return next(group for group in match.groups() if group)


def _all_text(error: ErrorBody | None, response: httpx.Response) -> str:
    if error is None:
        return response.text[:2000]
    texts = [error.Message or "", error.ExceptionMessage or ""]
    texts += [m.Message or "" for m in error.Messages or []]
    return " ".join(texts)


def _params(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}
