"""``FikenClient``: Fiken API v2 over httpx (sync; one Lambda works one tenant's events in order).

What Fiken's behaviour demands (docs/reference/fiken.md):

- One request in flight and 4 per second per tenant: every request goes through a ``RequestPacer``.
- 429 carries no Retry-After: exponential backoff with full jitter. A 429 means "not executed", so
  every method retries it.
- No idempotency keys: a POST that may have reached Fiken (5xx, timeout, dropped connection) is never
  repeated; ``FikenAmbiguousWriteError`` tells the caller to look the record up by its natural key
  first. Connection failures before anything was sent are retried for every method. GET, PUT, PATCH
  and DELETE set or read state, so repeating them is harmless and they are retried.
- 201 + ``Location`` with an empty body: ids come from the last path segment of ``Location``.
- Paging is 0-based and needs both ``page`` and ``pageSize``.

Every error keeps the method, the path *template* (``/companies/{companySlug}/contacts/{contactId}``),
the status and Fiken's message. The bearer token appears in no message, log line or repr, and no
error keeps a reference to an httpx exception (its request carries the Authorization header).
"""

from __future__ import annotations

import contextlib
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from momentsync.connectors.fiken.models import (
    Account,
    AccountFilter,
    Attachment,
    BankAccountFilter,
    BankAccountRequest,
    BankAccountResult,
    Company,
    Contact,
    ContactFilter,
    ContactResult,
    Counter,
    CreditNoteFilter,
    CreditNoteResult,
    FikenRequest,
    FullCreditNoteRequest,
    InvoiceFilter,
    InvoiceRequest,
    InvoiceResult,
    PartialCreditNoteRequest,
    ProjectFilter,
    ProjectRequest,
    ProjectResult,
    SaleAttachmentTarget,
    SaleFilter,
    SaleRequest,
    SaleResult,
    UpdateInvoiceRequest,
    UpdateProjectRequest,
)
from momentsync.connectors.fiken.pacing import RequestPacer, default_pacer
from momentsync.errors import PermanentError, TenantLevelError, TenantProblem, TransientError
from momentsync.observability import logger
from momentsync.ports import TokenProvider
from momentsync.retry_policy import Retry, RetryPolicy, may_repeat, scrub
from momentsync.tls import client_tls_context

DEFAULT_BASE_URL = "https://api.fiken.no/api/v2"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_PAGE_SIZE = 100  # Fiken's maximum
SAFE_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
MAX_MESSAGE_CHARS = 500
# A server that keeps sending full pages must not keep a Lambda paging forever.
MAX_PAGES = 10_000

BANK_ACCOUNT_UNVERIFIED_REMEDY = "Create one invoice from this bank account in Fiken first"
MODULE_MISSING_REMEDY = (
    "Buy the missing module for this company in Fiken (e.g. Prosjekt for projects), then resume the tenant"
)
API_ACCESS_REMEDY = (
    "Activate the API module for this company in Fiken and check that the connected Fiken user still "
    "has access to the company, then resume the tenant"
)
REAUTH_REMEDY = "Reconnect Fiken for this tenant (someone with access to the company approves momentsync)"

_UNVERIFIED_BANK_ACCOUNT = re.compile(
    r"(bank ?account|kontonummer|bankkonto).*(not been verified|not verified|ikke (blitt )?verifisert)",
    re.IGNORECASE | re.DOTALL,
)

# Path templates, exactly as the spec's paths (relative to the base URL); also what errors and logs show.
COMPANIES = "/companies"
COMPANY = "/companies/{companySlug}"
ACCOUNTS = "/companies/{companySlug}/accounts"
BANK_ACCOUNTS = "/companies/{companySlug}/bankAccounts"
CONTACTS = "/companies/{companySlug}/contacts"
CONTACT = "/companies/{companySlug}/contacts/{contactId}"
CREDIT_NOTES = "/companies/{companySlug}/creditNotes"
FULL_CREDIT_NOTES = "/companies/{companySlug}/creditNotes/full"
PARTIAL_CREDIT_NOTES = "/companies/{companySlug}/creditNotes/partial"
CREDIT_NOTE = "/companies/{companySlug}/creditNotes/{creditNoteId}"
INVOICES = "/companies/{companySlug}/invoices"
INVOICE_COUNTER = "/companies/{companySlug}/invoices/counter"
INVOICE = "/companies/{companySlug}/invoices/{invoiceId}"
INVOICE_ATTACHMENTS = "/companies/{companySlug}/invoices/{invoiceId}/attachments"
PROJECTS = "/companies/{companySlug}/projects"
PROJECT = "/companies/{companySlug}/projects/{projectId}"
SALES = "/companies/{companySlug}/sales"
SALE = "/companies/{companySlug}/sales/{saleId}"
SALE_ATTACHMENTS = "/companies/{companySlug}/sales/{saleId}/attachments"

ModelT = TypeVar("ModelT", bound=BaseModel)


# ---------------------------------------------------------------- errors
class FikenFailureContext(TypedDict):
    """The keyword arguments every FikenFailure takes: where it happened and what Fiken said."""

    method: str
    path: str
    status: int | None
    fiken_message: str | None
    request_id: str | None


class FikenFailure(Exception):
    """Mixed into every error this client raises; catch it for "anything Fiken". Never instantiated alone.

    ``status`` is None when no response came. ``fiken_message`` is Fiken's own text, when it sent one.
    """

    method: str
    path: str
    status: int | None
    fiken_message: str | None
    request_id: str | None

    def __init__(
        self,
        reason: str,
        *,
        method: str,
        path: str,
        status: int | None = None,
        fiken_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(reason, detail=fiken_message)  # type: ignore[call-arg]  # the SyncError base
        self._remember(method, path, status, fiken_message, request_id)

    def _remember(
        self, method: str, path: str, status: int | None, fiken_message: str | None, request_id: str | None
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.fiken_message = fiken_message
        self.request_id = request_id


class FikenRateLimited(FikenFailure, TransientError):
    """Still 429 after every attempt."""


class FikenUnavailable(FikenFailure, TransientError):
    """5xx, timeouts or network failures on a request that was safe to retry, after every attempt."""


class FikenAmbiguousWriteError(FikenFailure, TransientError):
    """A POST may or may not have been executed: look the record up by its natural key before
    creating it again (never blindly re-POST: Fiken has no idempotency keys)."""


class FikenValidationError(FikenFailure, PermanentError):
    """400: Fiken refused the content (missing or unexpected field, wrong format, a booking rule)."""


class FikenNotFound(FikenFailure, PermanentError):
    """404."""


class FikenConflict(FikenFailure, PermanentError):
    """409 (e.g. a counter that has not been initialised)."""


class FikenRequestRejected(FikenFailure, PermanentError):
    """Another 4xx: 415 (we sent something other than JSON) or 405 (wrong method): our bug."""


class FikenUnexpectedResponse(FikenFailure, PermanentError):
    """A success Fiken should not have sent this way: no Location, not JSON, not the documented shape."""


class FikenTenantError(FikenFailure, TenantLevelError):
    """401 after a refresh, 402 or 403: the tenant's Fiken connection needs a person, not a retry."""

    def __init__(
        self,
        problem: TenantProblem,
        reason: str,
        *,
        remedy: str | None,
        method: str,
        path: str,
        status: int | None,
        fiken_message: str | None,
        request_id: str | None,
    ) -> None:
        TenantLevelError.__init__(self, problem, reason, remedy=remedy)
        self.detail = fiken_message
        self._remember(method, path, status, fiken_message, request_id)


class UnsupportedAttachment(PermanentError):
    """A file Fiken would refuse (name not ending .pdf/.png/.jpg/.jpeg/.gif, or empty); not sent."""


# ---------------------------------------------------------------- observation
@dataclass(frozen=True)
class FikenRequestRecord:
    """One HTTP attempt, for ``on_request`` observers (counting, logging, metrics). No token in here."""

    method: str
    path: str  # the template, e.g. /companies/{companySlug}/invoices/{invoiceId}
    status: int | None  # None: no response (timeout, network)
    duration_seconds: float
    request_id: str
    attempt: int
    error: str | None = None  # the transport failure's type name, when there was no response


class _Random(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True)
class _Call:
    method: str
    template: str
    url: str


# ---------------------------------------------------------------- client
MAX_TOKEN_ROUNDS = 2


class FikenClient:
    def __init__(
        self,
        *,
        company_slug: str | None,
        token_provider: TokenProvider,
        base_url: str = DEFAULT_BASE_URL,
        http: httpx.Client | None = None,
        pacer: RequestPacer | None = None,
        pacing_key: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: _Random | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_attempts: int = 5,
        backoff_base_seconds: float = 1.0,
        backoff_cap_seconds: float = 16.0,
        on_request: Callable[[FikenRequestRecord], None] | None = None,
    ) -> None:
        """``company_slug`` may be None only for ``list_companies``. ``pacing_key`` (default: the
        slug) names whose one-request-at-a-time budget this client spends; share one ``pacer`` per
        process (the default does). ``max_attempts`` counts the first try; a 401 refresh is extra."""
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.company_slug = company_slug
        self._tokens = token_provider
        self._base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http or httpx.Client(follow_redirects=False, verify=client_tls_context())
        self._pacer = pacer or default_pacer()
        self._pacing_key = pacing_key or company_slug or "fiken"
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._on_request = on_request
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"FikenClient(company_slug={self.company_slug!r}, base_url={self._base_url!r})"

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> FikenClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ companies
    def list_companies(self) -> list[Company]:
        return list(self.iterate(COMPANIES, None, Company))

    def get_company(self) -> Company:
        return self._get(COMPANY, Company)

    # ------------------------------------------------------------ contacts
    def find_contacts(self, **filters: Any) -> list[ContactResult]:
        """E.g. ``find_contacts(member_number_string="moment-42")``; names as in ``ContactFilter``."""
        params = ContactFilter.model_validate(filters).to_params()
        return list(self.iterate(CONTACTS, params, ContactResult))

    def get_contact(self, contact_id: int) -> ContactResult:
        return self._get(CONTACT, ContactResult, contactId=contact_id)

    def create_contact(self, contact: Contact) -> int:
        return self._create(CONTACTS, contact)

    def replace_contact(self, contact_id: int, contact: Contact) -> None:
        """PUT: the contact becomes exactly ``contact`` (fields left out are cleared)."""
        self._request("PUT", CONTACT, body=contact, contactId=contact_id)

    # ------------------------------------------------------------ projects
    def find_projects(self, **filters: Any) -> list[ProjectResult]:
        """E.g. ``find_projects(number="P-1001")``; names as in ``ProjectFilter``."""
        params = ProjectFilter.model_validate(filters).to_params()
        return list(self.iterate(PROJECTS, params, ProjectResult))

    def get_project(self, project_id: int) -> ProjectResult:
        return self._get(PROJECT, ProjectResult, projectId=project_id)

    def create_project(self, project: ProjectRequest) -> int:
        return self._create(PROJECTS, project)

    def update_project(self, project_id: int, changes: UpdateProjectRequest) -> None:
        self._request("PATCH", PROJECT, body=changes, projectId=project_id)

    # ------------------------------------------------------------ invoices
    def find_invoices(self, **filters: Any) -> list[InvoiceResult]:
        """E.g. ``find_invoices(invoice_draft_uuid=...)``; names as in ``InvoiceFilter``."""
        params = InvoiceFilter.model_validate(filters).to_params()
        return list(self.iterate(INVOICES, params, InvoiceResult))

    def get_invoice(self, invoice_id: int) -> InvoiceResult:
        return self._get(INVOICE, InvoiceResult, invoiceId=invoice_id)

    def create_invoice(self, invoice: InvoiceRequest) -> int:
        """Creates, numbers and books the invoice (not sent). Ambiguous failure: ``find_invoices`` first."""
        return self._create(INVOICES, invoice)

    def patch_invoice(self, invoice_id: int, changes: UpdateInvoiceRequest) -> None:
        self._request("PATCH", INVOICE, body=changes, invoiceId=invoice_id)

    def get_invoice_counter(self) -> int | None:
        """The last invoice number used, or None when the counter is not initialised.

        The spec declares only 200 here; the 409 for "not initialised" is what a third-party
        client saw (docs/reference/fiken.md §8). So a 404, a 400/409 and a 200 without a value all read as
        "not initialised": the caller then initialises it, which cannot hurt (see below).
        """
        try:
            response = self._request("GET", INVOICE_COUNTER)
        except (FikenConflict, FikenNotFound, FikenValidationError):
            return None
        return self._parse(response, Counter, "GET", INVOICE_COUNTER).value

    def initialise_invoice_counter(self, value: int | None = None) -> None:
        """Starts invoice numbering at ``value`` + 1 (Fiken's default base: 10000).

        A 409 (already initialised, e.g. by a concurrent worker or a person) is success: the
        counter exists, which is all the caller needs.
        """
        with contextlib.suppress(FikenConflict):
            self._request("POST", INVOICE_COUNTER, body=Counter(value=value))

    def list_invoice_attachments(self, invoice_id: int) -> list[Attachment]:
        """The files attached to an invoice (not paged: an invoice has a handful)."""
        return self._get_list(INVOICE_ATTACHMENTS, Attachment, invoiceId=invoice_id)

    def upload_invoice_attachment(self, invoice_id: int, filename: str, content: bytes) -> str:
        """Attaches a file to the invoice; returns the attachment's id from ``Location``."""
        return self._upload(INVOICE_ATTACHMENTS, filename, content, invoiceId=invoice_id)

    # ------------------------------------------------------------ credit notes
    def create_full_credit_note(self, credit_note: FullCreditNoteRequest) -> int:
        return self._create(FULL_CREDIT_NOTES, credit_note)

    def create_partial_credit_note(self, credit_note: PartialCreditNoteRequest) -> int:
        return self._create(PARTIAL_CREDIT_NOTES, credit_note)

    def find_credit_notes(self, **filters: Any) -> list[CreditNoteResult]:
        """E.g. ``find_credit_notes(customer_id=5, issue_date_ge=...)``; names as in ``CreditNoteFilter``."""
        params = CreditNoteFilter.model_validate(filters).to_params()
        return list(self.iterate(CREDIT_NOTES, params, CreditNoteResult))

    def get_credit_note(self, credit_note_id: int) -> CreditNoteResult:
        return self._get(CREDIT_NOTE, CreditNoteResult, creditNoteId=credit_note_id)

    # ------------------------------------------------------------ sales
    def create_sale(self, sale: SaleRequest) -> int:
        return self._create(SALES, sale)

    def find_sales(self, **filters: Any) -> list[SaleResult]:
        """E.g. ``find_sales(sale_number="10042")``; names as in ``SaleFilter``."""
        params = SaleFilter.model_validate(filters).to_params()
        return list(self.iterate(SALES, params, SaleResult))

    def get_sale(self, sale_id: int) -> SaleResult:
        return self._get(SALE, SaleResult, saleId=sale_id)

    def list_sale_attachments(self, sale_id: int) -> list[Attachment]:
        return self._get_list(SALE_ATTACHMENTS, Attachment, saleId=sale_id)

    def upload_sale_attachment(
        self,
        sale_id: int,
        filename: str,
        content: bytes,
        *,
        attach_to_sale: bool = True,
        attach_to_payment: bool = False,
    ) -> str:
        if not (attach_to_sale or attach_to_payment):
            raise ValueError("Fiken needs attach_to_sale or attach_to_payment")
        target = SaleAttachmentTarget(attach_to_sale=attach_to_sale, attach_to_payment=attach_to_payment)
        return self._upload(
            SALE_ATTACHMENTS,
            filename,
            content,
            params=target.to_params(),
            saleId=sale_id,
        )

    # ------------------------------------------------------------ bank accounts, accounts
    def list_bank_accounts(self, **filters: Any) -> list[BankAccountResult]:
        params = BankAccountFilter.model_validate(filters).to_params()
        return list(self.iterate(BANK_ACCOUNTS, params, BankAccountResult))

    def create_bank_account(self, bank_account: BankAccountRequest) -> int:
        return self._create(BANK_ACCOUNTS, bank_account)

    def list_accounts(self, **filters: Any) -> list[Account]:
        """This year's bookkeeping accounts, paged although the spec's table says not
        (docs/reference/fiken.md §3.6)."""
        params = AccountFilter.model_validate(filters).to_params()
        return list(self.iterate(ACCOUNTS, params, Account))

    # ------------------------------------------------------------ paging
    def iterate(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        model: type[ModelT],
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **path_params: Any,
    ) -> Iterator[ModelT]:
        """Every item of a list endpoint, page by page (lazily).

        Sends ``page`` (from 0) and ``pageSize`` on every request: Fiken pages only when both are set.
        Stops after ``Fiken-Api-Page-Count`` pages; without that header, at the first short page.
        """
        if not 1 <= page_size <= DEFAULT_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{DEFAULT_PAGE_SIZE}")
        if params and ({"page", "pageSize"} & set(params)):
            raise ValueError("iterate sets page and pageSize itself")
        for page in range(MAX_PAGES):
            query = {**(params or {}), "page": page, "pageSize": page_size}
            response = self._request("GET", path, params=query, **path_params)
            items = self._json(response, "GET", path)
            if not isinstance(items, list):
                raise self._unexpected("GET", path, response, "a list endpoint answered without a JSON array")
            for item in items:
                yield self._validate(item, model, "GET", path, response)
            page_count = _int_header(response, "Fiken-Api-Page-Count")
            if not items or len(items) < page_size or (page_count is not None and page + 1 >= page_count):
                return
        raise self._unexpected("GET", path, None, f"more than {MAX_PAGES} pages")

    # ------------------------------------------------------------ plumbing
    def _get(self, template: str, model: type[ModelT], **path_params: Any) -> ModelT:
        response = self._request("GET", template, **path_params)
        return self._parse(response, model, "GET", template)

    def _get_list(self, template: str, model: type[ModelT], **path_params: Any) -> list[ModelT]:
        response = self._request("GET", template, **path_params)
        items = self._json(response, "GET", template)
        if not isinstance(items, list):
            raise self._unexpected("GET", template, response, "a list endpoint answered without a JSON array")
        return [self._validate(item, model, "GET", template, response) for item in items]

    def _create(self, template: str, body: FikenRequest) -> int:
        response = self._request("POST", template, body=body)
        return self._numeric_id(response, "POST", template)

    def _upload(
        self,
        template: str,
        filename: str,
        content: bytes,
        *,
        params: Mapping[str, Any] | None = None,
        **path_params: Any,
    ) -> str:
        content_type = _attachment_content_type(filename)
        if not content:
            raise UnsupportedAttachment(f"{filename!r} is empty; Fiken gets no empty attachments")
        response = self._request(
            "POST",
            template,
            params=params,
            form={"filename": filename},
            files={"file": (filename, content, content_type)},
            **path_params,
        )
        return self._location_id(response, "POST", template)

    def _request(
        self,
        method: str,
        template: str,
        *,
        body: FikenRequest | Counter | None = None,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        **path_params: Any,
    ) -> httpx.Response:
        """Sends one logical request: pacing, retries, one refresh after a 401; a 2xx or an error."""
        call = _Call(method, template, self._url(template, path_params))
        json_body = body.to_body() if body is not None else None
        used_tokens = [
            self._tokens.access_token()
        ]  # every token sent in this call is scrubbed from what Fiken says
        refreshes = 0
        request_ids: list[str] = []

        def attempt(number: int) -> httpx.Response:
            nonlocal refreshes
            token = used_tokens[-1]
            request_id = str(uuid.uuid4())
            request_ids.append(request_id)
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "X-Request-ID": request_id,
            }
            if files is None:  # httpx sets the multipart Content-Type (with its boundary) itself
                headers["Content-Type"] = "application/json"
            response, failure = self._send(call, headers, json_body, params, form, files, number, request_id)

            if failure is not None:
                sent = not isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
                what = f"{type(failure).__name__}: {scrub(str(failure), used_tokens) or 'no detail'}"
                if not may_repeat(method, repeatable=SAFE_METHODS, sent=sent):
                    raise self._ambiguous(call, None, request_id, what)
                raise Retry(
                    what,
                    final=FikenUnavailable(
                        f"Fiken unreachable for {method} {template} after {number} attempts ({what})",
                        method=method,
                        path=template,
                        request_id=request_id,
                    ),
                )

            assert response is not None
            status = response.status_code
            if 200 <= status < 300:
                return response
            message = _fiken_message(response, used_tokens)
            # Two rounds: the first may hand back a token another holder stored (a reconnect, a refresh
            # elsewhere) that was never tried here; if Fiken refuses that one too, the second round
            # refreshes it. Only a token we refreshed ourselves and Fiken still refuses means re-auth.
            # The repeat after a refresh is not a retry of a failure: it gets an attempt of its own.
            if status == 401 and refreshes < MAX_TOKEN_ROUNDS and token not in used_tokens[:-1]:
                refreshes += 1
                used_tokens.append(self._tokens.refresh_after_unauthorized(token))
                raise Retry("401: access token refreshed", free=True)
            if status == 429:
                # "Not executed": every method, a POST too, may be sent again.
                raise Retry(
                    "429 too many requests",
                    status=status,
                    final=FikenRateLimited(
                        f"Fiken kept answering 429 to {method} {template} after {number} attempts",
                        method=method,
                        path=template,
                        status=status,
                        fiken_message=message,
                        request_id=request_id,
                    ),
                )
            if status >= 500 or status == 408:
                if not may_repeat(method, repeatable=SAFE_METHODS, sent=True, status=status):
                    raise self._ambiguous(call, status, request_id, message)
                raise Retry(
                    f"{status}",
                    status=status,
                    final=FikenUnavailable(
                        f"Fiken answered {status} to {method} {template} after {number} attempts"
                        + (f": {message}" if message else ""),
                        method=method,
                        path=template,
                        status=status,
                        fiken_message=message,
                        request_id=request_id,
                    ),
                )
            raise self._rejection(call, status, message, request_id)

        def on_retry(retry: Retry, number: int, delay: float) -> None:
            logger.warning(
                "fiken request retried",
                extra={
                    "method": call.method,
                    "path": call.template,
                    "attempt": number,
                    "why": retry.what,
                    "delay_seconds": round(delay, 3),
                    "request_id": request_ids[-1],
                },
            )

        policy = RetryPolicy(
            max_attempts=self._max_attempts,
            backoff_base=self._backoff_base,
            backoff_cap=self._backoff_cap,
            jitter=self._rng.random,  # full jitter: spreads tenants' retries apart
            sleep=self._sleep,
        )
        return policy.run(attempt, on_retry=on_retry)

    def _send(
        self,
        call: _Call,
        headers: dict[str, str],
        json_body: dict[str, Any] | None,
        params: Mapping[str, Any] | None,
        form: Mapping[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None,
        attempt: int,
        request_id: str,
    ) -> tuple[httpx.Response | None, httpx.RequestError | None]:
        response: httpx.Response | None = None
        failure: httpx.RequestError | None = None
        with self._pacer.slot(self._pacing_key) as leaving:

            def trace(event: str, _info: dict[str, Any]) -> None:
                # httpcore's trace hook: the pace counts from when the request is written, not granted.
                if event.endswith(".send_request_headers.started"):
                    leaving()

            started = time.perf_counter()
            try:
                response = self._http.request(
                    call.method,
                    call.url,
                    headers=headers,
                    params=params,
                    json=json_body,
                    data=form,
                    files=files,
                    timeout=self._timeout,
                    extensions={"trace": trace},
                )
            except httpx.RequestError as exc:  # transport failures, and bodies that fail to decode
                failure = exc
            duration = time.perf_counter() - started
        self.requests_sent += 1
        self._observe(
            FikenRequestRecord(
                method=call.method,
                path=call.template,
                status=response.status_code if response is not None else None,
                duration_seconds=duration,
                request_id=request_id,
                attempt=attempt,
                error=type(failure).__name__ if failure is not None else None,
            )
        )
        return response, failure

    def _observe(self, record: FikenRequestRecord) -> None:
        if self._on_request is None:
            return
        try:
            self._on_request(record)
        except Exception:  # an observer must never turn a created record into a failure
            logger.exception("fiken request observer failed", extra={"path": record.path})

    def _url(self, template: str, path_params: Mapping[str, Any]) -> str:
        values = dict(path_params)
        if "{companySlug}" in template:
            if not self.company_slug:
                raise ValueError("this FikenClient has no company_slug")
            values["companySlug"] = self.company_slug
        quoted = {name: quote(str(value), safe="") for name, value in values.items()}
        return self._base_url + template.format(**quoted)

    # ------------------------------------------------------------ responses
    def _parse(self, response: httpx.Response, model: type[ModelT], method: str, template: str) -> ModelT:
        return self._validate(self._json(response, method, template), model, method, template, response)

    def _json(self, response: httpx.Response, method: str, template: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(method, template, response, "the body is not JSON") from None

    def _validate(
        self, data: Any, model: type[ModelT], method: str, template: str, response: httpx.Response
    ) -> ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or model.__name__}: {error['msg']}"
                for error in exc.errors()[:5]
            )
            raise self._unexpected(
                method, template, response, f"not a {model.__name__} ({problems})"
            ) from None

    def _numeric_id(self, response: httpx.Response, method: str, template: str) -> int:
        identifier = self._location_id(response, method, template)
        if not identifier.isascii() or not identifier.isdigit():
            raise self._unexpected(
                method, template, response, f"Location ends in {identifier!r}, not a numeric id"
            )
        return int(identifier)

    def _location_id(self, response: httpx.Response, method: str, template: str) -> str:
        location = response.headers.get("Location")
        identifier = location_id(location) if location else None
        if not identifier:
            raise self._unexpected(
                method,
                template,
                response,
                f"{response.status_code} without a usable Location; the record was probably created, "
                "so look it up before trying again",
            )
        return identifier

    def _unexpected(
        self, method: str, template: str, response: httpx.Response | None, what: str
    ) -> FikenUnexpectedResponse:
        return FikenUnexpectedResponse(
            f"unexpected answer from Fiken to {method} {template}: {what}",
            method=method,
            path=template,
            status=response.status_code if response is not None else None,
            request_id=response.request.headers.get("X-Request-ID") if response is not None else None,
        )

    def _ambiguous(
        self, call: _Call, status: int | None, request_id: str, what: str | None
    ) -> FikenAmbiguousWriteError:
        failure = f"{status}" if status is not None else "no response"
        return FikenAmbiguousWriteError(
            f"{call.method} {call.template} may or may not have been executed by Fiken ({failure}"
            + (f": {what}" if what else "")
            + "); look the record up by its natural key before creating it again",
            method=call.method,
            path=call.template,
            status=status,
            fiken_message=what if status is not None else None,
            request_id=request_id,
        )

    def _rejection(self, call: _Call, status: int, message: str | None, request_id: str) -> FikenFailure:
        said = f": {message}" if message else ""
        where = f"{call.method} {call.template}"
        context: FikenFailureContext = {
            "method": call.method,
            "path": call.template,
            "status": status,
            "fiken_message": message,
            "request_id": request_id,
        }
        if status == 401:
            return FikenTenantError(
                TenantProblem.NEEDS_REAUTH,
                f"Fiken refused our access token for {where} even after a refresh{said}",
                remedy=REAUTH_REMEDY,
                **context,
            )
        if status == 402:
            return FikenTenantError(
                TenantProblem.MODULE_MISSING,
                f"Fiken module not purchased for this company ({where}, 402){said}",
                remedy=MODULE_MISSING_REMEDY,
                **context,
            )
        if status == 403:
            if message and _UNVERIFIED_BANK_ACCOUNT.search(message):
                return FikenTenantError(
                    TenantProblem.BANK_ACCOUNT_UNVERIFIED,
                    f"Fiken has not verified the company's bank account ({where}){said}",
                    remedy=BANK_ACCOUNT_UNVERIFIED_REMEDY,
                    **context,
                )
            return FikenTenantError(
                TenantProblem.API_ACCESS_MISSING,
                f"Fiken denied access to the company ({where}, 403){said}",
                remedy=API_ACCESS_REMEDY,
                **context,
            )
        if status == 400:
            return FikenValidationError(f"Fiken rejected {where} (400){said}", **context)
        if status == 404:
            return FikenNotFound(f"Fiken found nothing at {where} (404){said}", **context)
        if status == 409:
            return FikenConflict(f"Fiken reported a conflict on {where} (409){said}", **context)
        if 400 <= status < 500:
            return FikenRequestRejected(f"Fiken refused {where} ({status}){said}", **context)
        return FikenUnexpectedResponse(f"unexpected status {status} from Fiken to {where}{said}", **context)


# ---------------------------------------------------------------- helpers
def location_id(location: str) -> str | None:
    """The id Fiken puts last in a ``Location`` URL: "123" for records, non-numeric for attachments."""
    segment = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    return segment or None


def _attachment_content_type(filename: str) -> str:
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    content_type = ATTACHMENT_TYPES.get(suffix)
    if content_type is None or len(filename) <= len(suffix):
        raise UnsupportedAttachment(
            f"Fiken accepts attachments named *.pdf, *.png, *.jpg, *.jpeg or *.gif only, not {filename!r}"
        )
    return content_type


def _fiken_message(response: httpx.Response, tokens: list[str]) -> str | None:
    """Fiken's explanation: ``{"message"}``, OAuth-style ``error``/``error_description``, or plain text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return scrub(text[:MAX_MESSAGE_CHARS], tokens) or None
    if isinstance(body, dict):
        message = body.get("message")
        error, description = body.get("error"), body.get("error_description")
        if isinstance(message, str) and message:
            text = message
        elif description or error:
            text = ": ".join(str(part) for part in (error, description) if part)
        else:
            text = response.text.strip()
    else:
        text = response.text.strip()
    return scrub(text[:MAX_MESSAGE_CHARS], tokens) or None


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
