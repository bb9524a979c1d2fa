"""Moment's REST API, read-only: customers, projects, invoices (and the invoice PDF).

``{base_url}/companies/{companyCode}/{entity}``, Basic auth with user ``apikey`` and the tenant's
key as password (docs/reference/moment.md §2.2). Synchronous: one Lambda invocation handles one event.

What each outcome means for the processor (``momentsync.errors``):

- 429, 408, 5xx, network errors and timeouts: retried with exponential backoff and full jitter;
  when the attempts are used up, ``MomentUnavailable`` (a ``TransientError``).
- 401: ``TenantLevelError(MOMENT_KEY_INVALID)`` — keys expire (at most two years, test keys 14 days).
  With ``fresh_key`` (the processor passes its credentials store's uncached read), the stored key is
  read again first: an operator may have rotated it while this client held the old one; a different
  key is tried once (not counted as an attempt), the same key means the key really is refused.
- 403: the client reads one record of the other entity types (at most two requests, only on a
  403, and at most once a minute per entity: a burst of 403s costs one request each). When the
  key reads none of them it has no access to the company: ``TenantLevelError(MOMENT_KEY_INVALID)``.
  When it reads some, the access is per entity:
  ``MomentAccessDenied`` (a ``PermanentError`` of that one event, naming the entity and the fix),
  so a key that may not read invoices does not hold back the customers it may read.
- A 2xx answer that is an HTML page (a login or maintenance page in front of the API) is not a
  record: ``TenantLevelError(MOMENT_KEY_INVALID)``, so the tenant's events are parked, not lost.
- 404 on a record: ``MomentRecordNotFound`` (a ``PermanentError``): the record was deleted.
- Other 4xx: ``MomentRequestRejected`` (``PermanentError``) with Moment's ``message``/``details``.
- A body that does not fit ``models``: ``MomentResponseInvalid`` (``PermanentError``) naming the field.
- ``Retry-After`` (seconds or an HTTP date) is honoured up to ``retry_after_cap`` (20 s), which is
  also the budget for all the waits of one request; a longer wait is not slept through inside the
  Lambda: ``MomentUnavailable`` at once, and SQS brings the event back.
- Lists are read page by page until every record Moment counts was seen: the page number Moment
  echoes is only a hint (1-based paging is followed), a page repeating records already read (Moment
  ignoring ``page``) ends in ``MomentResponseInvalid`` instead of looping, an unknown list key too.
- Fields Moment sends that the models do not know are reported once per field per process (a
  warning log and the ``MomentUnknownField`` metric), values never logged: drift becomes visible.

The API key is held as a ``SecretStr`` and only turned into a header when a request is sent; it is
never logged, never put into an exception and not shown by ``repr``.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError
from momentsync.moment.field_drift import report_unknown_fields
from momentsync.moment.models import (
    Customer,
    FinancialAccountRef,
    Invoice,
    InvoiceLine,
    MomentErrorBody,
    MomentFieldMissing,
    Page,
    Project,
)
from momentsync.observability import logger
from momentsync.retry_policy import Retry, RetryPolicy, retry_after_seconds, scrub
from momentsync.tls import client_tls_context

PRODUCTION_BASE_URL = "https://app.moment.team/api/1.0"
API_KEY_USERNAME = "apikey"

# Moment's "includes" (docs/reference/moment.md §2.4): GET /{entity}/{id}/include/{parts}, parts joined by "+"
# (the form observed working live is ``include/base+email``). The part naming the invoice lines is
# a GUESS — verify against the live swagger. ``None`` = plain GET.
CUSTOMER_INCLUDE: str | None = None
PROJECT_INCLUDE: str | None = None
INVOICE_INCLUDE: str | None = "base+invoiceLines"

# The rendered invoice PDF: endpoint not documented (GAP); this path is a GUESS.
INVOICE_PDF_PATH = "invoices/{id}/pdf"

# List paging and filters (observed in public clients): 0-based ``page``, ``size``, ISO timestamps.
PAGE_PARAM = "page"
SIZE_PARAM = "size"
MODIFIED_SINCE_PARAM = "lastModifiedDateFrom"
SORT_PARAM = "sort"
SORT_BY_ID = "id,asc"  # a stable order, so records do not shift between pages while we read
DEFAULT_PAGE_SIZE = 200

# Observed (docs/reference/moment.md §7); lines may carry only its id.
FINANCIAL_ACCOUNTS = "financialAccounts"
ACCOUNTS_MAX_AGE_SECONDS = 60.0  # a burst of invoices shares one read; a renumbering shows within a minute
RETRY_AFTER_CAP = 20.0  # seconds we wait inside one invocation (the processor's timeout is 120 s)
RETRYABLE_STATUSES = frozenset({408, 429})  # plus every 5xx
# Read after a 403 to tell "no access to this company" (tenant-level) from "not to this entity".
PROBE_COLLECTIONS = ("customers", "projects", "invoices")
ACCESS_VERDICT_MAX_AGE_SECONDS = 60.0
MAX_ERROR_TEXT = 300
_COMPANY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

ModelT = TypeVar("ModelT", bound=BaseModel)


class MomentRecordNotFound(PermanentError):
    """Moment answered 404 for a record: it was deleted (or never existed)."""

    def __init__(self, entity_type: str, entity_id: int) -> None:
        super().__init__(f"Moment {entity_type} {entity_id} not found (deleted in Moment?)")
        self.entity_type = entity_type
        self.entity_id = entity_id


class MomentRequestRejected(PermanentError):
    """A 4xx other than 401/403/404/408/429: retrying the same request cannot help."""

    def __init__(self, reason: str, *, status: int, detail: str | None = None) -> None:
        super().__init__(reason, detail=detail)
        self.status = status


class MomentResponseInvalid(PermanentError):
    """Moment answered 2xx with a body that does not fit our model of its JSON."""

    def __init__(self, reason: str, *, field_path: str | None = None) -> None:
        super().__init__(reason)
        self.field_path = field_path


class MomentAccessDenied(PermanentError):
    """403: the key may not read this kind of record (other kinds may still work)."""

    def __init__(self, reason: str, *, remedy: str) -> None:
        super().__init__(f"{reason}; fix: {remedy}")
        self.remedy = remedy


class MomentUnavailable(TransientError):
    """Retries used up on 429/5xx/network errors; the event may succeed later."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


class _KeyReplaced(Exception):  # noqa: N818 - a signal to _request, never raised to a caller
    """A 401 answered the key this client held, and the store holds another one: try that one."""


class _Retryable(Exception):
    def __init__(self, what: str, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.status = status
        self.retry_after = retry_after


class MomentClient:
    """One tenant's view of one Moment company. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        company_code: str,
        api_key: str | SecretStr,
        *,
        base_url: str = PRODUCTION_BASE_URL,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        retry_after_cap: float = RETRY_AFTER_CAP,
        page_size: int = DEFAULT_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        fresh_key: Callable[[], SecretStr | None] | None = None,
    ) -> None:
        if not _COMPANY_CODE.match(company_code):
            raise ValueError("company_code must be Moment's company code from its URL (letters, digits, _.-)")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.company_code = company_code
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not self._api_key.get_secret_value():
            raise ValueError("api_key is empty")
        self._fresh_key = fresh_key
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        # financialAccounts by id, per client (the session keeps one client per tenant across warm
        # invocations, for hours): refreshed when a line names an id it does not hold, and once
        # ACCOUNTS_MAX_AGE_SECONDS old, so an account renumbered (or given another VAT code) under
        # the same id in Moment is not booked by its old number for the container's lifetime.
        self._accounts: dict[int, FinancialAccountRef] | None = None
        self._accounts_read_at = 0.0
        self._clock = clock
        # After a 403: entity -> (the key reads another entity, when that was learnt), so a burst of
        # events meeting the same 403 costs Moment one request each, not three.
        self._other_readable: dict[str, tuple[bool, float]] = {}
        self.page_size = page_size
        self._sleep = sleep
        self._jitter = jitter
        self._http = httpx.Client(
            base_url=f"{self.base_url}/companies/{quote(company_code, safe='')}/",
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
            verify=client_tls_context(),
        )

    def __repr__(self) -> str:
        return f"MomentClient(base_url={self.base_url!r}, company_code={self.company_code!r})"

    def __enter__(self) -> MomentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- records ----------------------------------------------------------------------------------

    def get_customer(self, customer_id: int) -> Customer:
        return self._get_record("customer", "customers", customer_id, CUSTOMER_INCLUDE, Customer)

    def get_project(self, project_id: int) -> Project:
        return self._get_record("project", "projects", project_id, PROJECT_INCLUDE, Project)

    def get_invoice(self, invoice_id: int) -> Invoice:
        invoice = self._get_record("invoice", "invoices", invoice_id, INVOICE_INCLUDE, Invoice)
        return self.with_accounts(invoice)

    def with_accounts(self, invoice: Invoice) -> Invoice:
        """The invoice with each line's account completed from ``GET financialAccounts``.

        Lines that name their account only by id (Moment's flat ``financialAccountId``) get its
        number and VAT code; an id Moment does not list, even after a refresh, is an error naming it.
        """
        if not any(_needs_account(line) for line in invoice.lines):
            return invoice
        lines = [self._completed_line(invoice, index, line) for index, line in enumerate(invoice.lines)]
        return invoice.model_copy(update={"lines": lines})

    def financial_accounts(self, *, refresh: bool = False) -> dict[int, FinancialAccountRef]:
        if (
            self._accounts is None
            or refresh
            or self._clock() - self._accounts_read_at > ACCOUNTS_MAX_AGE_SECONDS
        ):
            self._accounts_read_at = self._clock()
            self._accounts = {
                account.id: account
                for account in self._list(FINANCIAL_ACCOUNTS, None, FinancialAccountRef, None)
                if account.id is not None
            }
        return self._accounts

    def _completed_line(self, invoice: Invoice, index: int, line: InvoiceLine) -> InvoiceLine:
        if not _needs_account(line):
            return line
        ref = line.financial_account
        assert ref is not None and ref.id is not None
        account = self.financial_accounts().get(ref.id) or self.financial_accounts(refresh=True).get(ref.id)
        if ref.account_number is not None:
            # Only the VAT code was missing: take the list's, change nothing else on the line.
            if account is None or account.vat_code is None:
                return line
            codes = {
                "external_tax_code": account.external_tax_code,
                "vat_category_code": account.vat_category_code,
            }
            return line.model_copy(update={"financial_account": ref.model_copy(update=codes)})
        if account is None or account.account_number is None:
            raise MomentFieldMissing(
                f"invoice {invoice.invoice_number or invoice.id}",
                f"invoiceLines[{index}].financialAccountId",
                f"account id {ref.id} is not among Moment's financialAccounts",
                line.sent_fields,
            )
        merged = account.model_copy(
            update={
                "account_number": ref.account_number or account.account_number,  # the line's own first
                "external_tax_code": ref.external_tax_code or account.external_tax_code,
                "vat_category_code": ref.vat_category_code or account.vat_category_code,
            }
        )
        return line.model_copy(update={"financial_account": merged})

    def get_invoice_pdf(self, invoice_id: int) -> bytes:
        path = INVOICE_PDF_PATH.format(id=_record_id(invoice_id))
        response = self._request(path, accept="application/pdf", not_found=("invoice pdf", invoice_id))
        if not response.content.startswith(b"%PDF-"):
            raise MomentResponseInvalid(
                f"Moment's PDF of invoice {invoice_id} is not a PDF "
                f"(content type {response.headers.get('content-type', 'none')!r})"
            )
        return response.content

    # -- lists --------------------------------------------------------------------------------------

    def list_customers(self, modified_since: datetime | None = None) -> Iterator[Customer]:
        return self._list("customers", CUSTOMER_INCLUDE, Customer, modified_since)

    def list_projects(self, modified_since: datetime | None = None) -> Iterator[Project]:
        return self._list("projects", PROJECT_INCLUDE, Project, modified_since)

    def list_invoices(self, modified_since: datetime | None = None) -> Iterator[Invoice]:
        return self._list("invoices", INVOICE_INCLUDE, Invoice, modified_since)

    def sample(self, collection: str, size: int = 5) -> list[dict[str, Any]]:
        """The first ``size`` records of a list as Moment sent them (raw JSON, amounts as Decimal):
        for ``momentsync tenants probe``, which compares them with the models."""
        include = {"invoices": INVOICE_INCLUDE, "customers": CUSTOMER_INCLUDE, "projects": PROJECT_INCLUDE}
        path = _with_include(collection, include.get(collection))
        records: list[Any] = []
        for number in (0, 1):
            response = self._request(
                path, params={PAGE_PARAM: number, SIZE_PARAM: size, SORT_PARAM: SORT_BY_ID}
            )
            try:
                data = json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise MomentResponseInvalid(f"Moment's answer for {collection} is not JSON") from None
            found = data.get("content") if isinstance(data, dict) else data
            if not isinstance(found, list):
                keys = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
                raise MomentResponseInvalid(
                    f"Moment's {collection} list has no 'content' list (it sent: {keys})"
                )
            records = found
            counted = (data.get("page") or {}).get("totalElements") if isinstance(data, dict) else None
            if records or not isinstance(counted, int) or counted <= 0:
                break
            # Empty although Moment counts records: a 1-based API answering page 0 (as ``_list``).
        return [record for record in records[:size] if isinstance(record, dict)]

    # -- internals ----------------------------------------------------------------------------------

    def _get_record(
        self, entity_type: str, collection: str, record_id: int, include: str | None, model: type[ModelT]
    ) -> ModelT:
        path = _with_include(f"{collection}/{_record_id(record_id)}", include)
        response = self._request(path, not_found=(entity_type, record_id))
        record = _parse(response, model, f"{entity_type} {record_id}")
        if getattr(record, "id", record_id) != record_id:
            answered = getattr(record, "id", None)
            raise MomentResponseInvalid(
                f"Moment answered {entity_type} {answered} when asked for {record_id}", field_path="id"
            )
        return record

    def _list(
        self, collection: str, include: str | None, model: type[ModelT], modified_since: datetime | None
    ) -> Iterator[ModelT]:
        path = _with_include(collection, include)
        page_model = Page[model]  # type: ignore[valid-type]  # a generic model made at run time from a class
        number, requests = 0, 0
        seen: set[object] = set()
        while True:
            params: dict[str, Any] = {PAGE_PARAM: number, SIZE_PARAM: self.page_size, SORT_PARAM: SORT_BY_ID}
            if modified_since is not None:
                params[MODIFIED_SINCE_PARAM] = modified_since.isoformat()
            response = self._request(path, params=params)
            page = _parse(response, page_model, f"{collection} page {number}")
            requests += 1
            if len(page.content) > page.page.total_elements:
                # One answer counting fewer records than it holds (a count Moment does not keep, 0):
                # ending on the count would silently drop every page after this one.
                raise MomentResponseInvalid(
                    f"Moment answered {collection} page {number} with {len(page.content)} records but "
                    f"counts {page.page.total_elements} in all: its count cannot end the list",
                    field_path="page.totalElements",
                )
            keys = [_record_key(record) for record in page.content]
            if page.content and all(key is not None and key in seen for key in keys):
                raise MomentResponseInvalid(
                    f"Moment answered {collection} page {number} with records already read: it seems to "
                    f"ignore the {PAGE_PARAM!r} parameter ({len(seen)} of {page.page.total_elements} read)",
                    field_path="page.number",
                )
            yield from (
                r for r, key in zip(page.content, keys, strict=True) if key is None or key not in seen
            )
            seen.update(key for key in keys if key is not None)
            # Done when every record Moment counts was read; the echoed number only says where to
            # continue (a 1-based API answers page 0 with page 1).
            if len(seen) >= page.page.total_elements:
                return
            if not page.content:
                if number == 0 and not seen:
                    # A 1-based API may answer page 0 empty (an offset of -size): try page 1 once.
                    number = 1
                    continue
                # Records deleted while we read shrink the count this page gives (handled above);
                # an empty page while Moment still counts unread records is not the end of the list.
                raise MomentResponseInvalid(
                    f"Moment answered {collection} page {number} empty with {len(seen)} of "
                    f"{page.page.total_elements} records read",
                    field_path="page.number",
                )
            if requests > page.page.total_pages + 1:
                raise MomentResponseInvalid(
                    f"Moment's {collection} paging did not end after {requests} pages "
                    f"({len(seen)} of {page.page.total_elements} records read)",
                    field_path="page",
                )
            number = max(number, page.page.number) + 1

    def _request(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        accept: str = "application/json",
        not_found: tuple[str, int] | None = None,
    ) -> httpx.Response:
        """GET with retries; returns a 2xx response or raises the error the processor decides on."""

        def attempt(_number: int) -> httpx.Response:
            try:
                return self._attempt(path, params, accept, not_found)
            except _KeyReplaced:
                raise Retry("401: the stored Moment API key was rotated", free=True) from None
            except _Retryable as retryable:
                raise Retry(
                    retryable.what,
                    status=retryable.status,
                    retry_after=retryable.retry_after,
                    final=MomentUnavailable(
                        f"Moment GET {path} failed after {self.max_attempts} attempts: {retryable.what}",
                        status=retryable.status,
                    ),
                ) from None

        def over_budget(retry: Retry, total: float) -> MomentUnavailable:
            # One event's waiting stays within the budget (the processor's timeout is 120 s and each
            # attempt may take its read timeout too): past it, SQS brings the event back.
            return MomentUnavailable(
                f"Moment GET {path}: {retry.what}; waiting {total:.0f} s in all would exceed "
                f"{self.retry_after_cap:.0f} s: the event is retried later",
                status=retry.status,
            )

        def on_retry(retry: Retry, number: int, delay: float) -> None:
            logger.warning(
                "Moment request will be retried",
                extra={
                    "moment_path": path,
                    "status": retry.status,
                    "reason": retry.what,
                    "attempt": number,
                    "delay_seconds": round(delay, 3),
                },
            )

        return self._retry_policy().run(attempt, on_retry=on_retry, over_budget=over_budget)

    def _retry_policy(self) -> RetryPolicy:
        # Built per call from the attributes, so a caller that tunes them on a live client is heard.
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            retry_after_cap=self.retry_after_cap,
            wait_budget=self.retry_after_cap,
            jitter=self._jitter,
            sleep=self._sleep,
        )

    def _attempt(
        self, path: str, params: dict[str, Any] | None, accept: str, not_found: tuple[str, int] | None
    ) -> httpx.Response:
        try:
            response = self._http.get(
                path, params=params, headers={"Authorization": self._authorization(), "Accept": accept}
            )
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})", None) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"network error ({type(exc).__name__})", None) from None
        status = response.status_code
        if 200 <= status < 300:
            if accept == "application/json" and _is_html(response):
                # A login / maintenance page in front of the API: no record can be read for this
                # tenant until someone looks, so park its events instead of failing each one.
                raise TenantLevelError(
                    TenantProblem.MOMENT_KEY_INVALID,
                    f"Moment answered GET {path} with an HTML page (HTTP {status}), not JSON: a login page?",
                    remedy="Check the tenant's Moment company code and API key (a key Moment does not "
                    "accept can be answered with its login page), then resume the tenant.",
                )
            return response
        if status in RETRYABLE_STATUSES or status >= 500:
            retry_after = _retry_after(response)
            if retry_after is not None and retry_after > self.retry_after_cap:
                # Sleeping that long inside one invocation would hold the tenant's queue for nothing.
                raise MomentUnavailable(
                    f"Moment GET {path}: HTTP {status}, Retry-After {retry_after:.0f} s "
                    f"(more than {self.retry_after_cap:.0f} s): the event is retried later",
                    status=status,
                )
            raise _Retryable(f"HTTP {status}", status, retry_after)
        said = self._moment_says(response)
        if status == 401:
            if self._take_rotated_key():
                raise _KeyReplaced
            raise TenantLevelError(
                TenantProblem.MOMENT_KEY_INVALID,
                "Moment API key invalid or expired",
                remedy="Generate a new API key in Moment (Company > API keys) and store it for this tenant.",
            )
        if status == 403:
            entity = path.split("/", 1)[0]
            if not self._reads_any_other(entity):
                raise TenantLevelError(
                    TenantProblem.MOMENT_KEY_INVALID,
                    f"Moment API key has no access to company {self.company_code!r} (HTTP 403){said}",
                    remedy="Give the API key's user access to this company in Moment, "
                    "or use a key that has it.",
                )
            raise MomentAccessDenied(
                f"Moment API key may not read {entity} of company {self.company_code!r} (HTTP 403){said}",
                remedy=f"give the API key's user access to {entity} in Moment (or use a key that has it), "
                "then replay the dead-lettered events",
            )
        if status == 404 and not_found is not None:
            raise MomentRecordNotFound(*not_found)
        raise MomentRequestRejected(
            f"Moment rejected GET {path} (HTTP {status}){said}",
            status=status,
            detail=said.removeprefix(": ") or None,
        )

    def _reads_any_other(self, entity: str) -> bool:
        """After a 403: does the key read another kind of record? (Only then is it per entity.)

        Learnt once per ``ACCESS_VERDICT_MAX_AGE_SECONDS`` per entity: against Moment's 30 requests
        per second, every 403 of a burst must not cost two more requests."""
        known = self._other_readable.get(entity)
        if known is not None and self._clock() - known[1] <= ACCESS_VERDICT_MAX_AGE_SECONDS:
            return known[0]
        readable = self._probe_other(entity)
        self._other_readable[entity] = (readable, self._clock())
        return readable

    def _probe_other(self, entity: str) -> bool:
        for other in PROBE_COLLECTIONS:
            if other == entity:
                continue
            try:
                answer = self._http.get(
                    other,
                    params={PAGE_PARAM: 0, SIZE_PARAM: 1},
                    headers={"Authorization": self._authorization()},
                )
            except httpx.HTTPError:
                continue
            if 200 <= answer.status_code < 300 and not _is_html(answer):
                return True
        return False

    def _take_rotated_key(self) -> bool:
        """After a 401: whether the store now holds another key (then this client uses it)."""
        if self._fresh_key is None:
            return False
        try:
            stored = self._fresh_key()
        except Exception as exc:  # noqa: BLE001 - the store unreadable: the 401 stands as Moment's answer
            # The type only: a parse error of the secret would quote the secret itself.
            logger.warning(
                "could not read the stored Moment API key again after a 401",
                extra={"error_type": type(exc).__name__},
            )
            return False
        if stored is None or not stored.get_secret_value():
            return False
        if stored.get_secret_value() == self._api_key.get_secret_value():
            return False
        self._api_key = stored
        return True

    def _authorization(self) -> str:
        token = base64.b64encode(f"{API_KEY_USERNAME}:{self._api_key.get_secret_value()}".encode()).decode()
        return f"Basic {token}"

    def _moment_says(self, response: httpx.Response) -> str:
        """Moment's ``message``/``details`` as ``": ..."`` (short, never echoing our key), or ``""``."""
        try:
            body = MomentErrorBody.model_validate(response.json())
            details = body.details
            if details is not None and not isinstance(details, str):
                details = json.dumps(details, default=str)
            text = " — ".join(part for part in (body.message, details) if part)
        except (ValueError, ValidationError):
            text = response.text.strip() if "text/" in response.headers.get("content-type", "") else ""
        text = self._scrub(text)[:MAX_ERROR_TEXT]
        return f": {text}" if text else ""

    def _scrub(self, text: str) -> str:
        return scrub(text, [self._api_key.get_secret_value()], "[REDACTED]")


def _record_id(record_id: int) -> int:
    # Ids go into the URL path: refuse anything but a positive int (bool is an int too).
    if not isinstance(record_id, int) or isinstance(record_id, bool) or record_id <= 0:
        raise ValueError(f"Moment ids are positive integers, got {record_id!r}")
    return record_id


def _with_include(path: str, include: str | None) -> str:
    return f"{path}/include/{include}" if include else path


def _needs_account(line: InvoiceLine) -> bool:
    """The line names its account by id and lacks its number or its VAT code (the documented flat
    include gives ``financialAccountId`` + ``financialAccountAccountNumber`` and no code)."""
    ref = line.financial_account
    return ref is not None and ref.id is not None and (ref.account_number is None or ref.vat_code is None)


def _record_key(record: BaseModel) -> object:
    key = getattr(record, "id", None)
    return key if key is not None else getattr(record, "account_number", None)


def _is_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    # JSON never starts with "<": after a byte-order mark and whitespace, any markup (a doctype, an
    # XML prolog, a comment, <head>) is a page in front of the API, not a record.
    return response.content.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<")


def _retry_after(response: httpx.Response, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait, from ``Retry-After`` as seconds or as an HTTP date (RFC 9110 §10.2.3)."""
    return retry_after_seconds(response.headers.get("retry-after"), now)


def _parse(response: httpx.Response, model: type[ModelT], what: str) -> ModelT:
    try:
        # Decimals, never floats: Moment's amounts are JSON numbers with decimals.
        data = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise MomentResponseInvalid(f"Moment's answer for {what} is not JSON") from None
    try:
        record = model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        field_path = ".".join(str(part) for part in error["loc"]) or None
        sent = _keys_at(data, error["loc"])
        raise MomentResponseInvalid(
            f"Moment's answer for {what} does not fit the expected shape: "
            f"{field_path or 'body'}: {error['msg']} ({exc.error_count()} problem(s))"
            + (f"; Moment sent: {', '.join(sent) or 'nothing'}" if sent is not None else ""),
            field_path=field_path,
        ) from None
    report_unknown_fields(record)
    return record


def _keys_at(data: Any, loc: tuple[Any, ...]) -> list[str] | None:
    """The keys (never the values) of the object holding the field an error names, so a renamed field
    is one look away: ``name`` missing, ``customerName`` sent."""
    node = data
    for part in loc[:-1]:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break  # an alias path pydantic reports by our name: stop at the deepest object found
        node = node[part]
    return sorted(map(str, node)) if isinstance(node, dict) else None
