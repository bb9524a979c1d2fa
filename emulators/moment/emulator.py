"""``MomentEmulator``: a stateful, read-only Moment REST API for tests and local runs.

Serves ``{base}/api/1.0/companies/{companyCode}/...`` (so settings take
``moment_api_base_url = emulator.api_base_url``):

- ``GET customers|projects|invoices`` — Spring-style pages (0-based ``page``, ``size`` default 20,
  ``lastModifiedDateFrom``/``lastModifiedDateTo`` inclusive ISO timestamps, ``sort=id,asc|id,desc``);
- ``GET customers|projects|invoices/{id}`` — one record, 404 with ``message`` when absent/deleted;
- either form followed by ``/include/{parts}`` (parts joined by ``+`` or ``,``); invoice lines are
  only returned when the parts name them (``invoiceLines``), like Moment's reduced default field set;
- ``GET invoices/{id}/pdf`` — a small valid PDF naming the invoice number (404 for drafts);
- ``GET financialAccounts`` — the sales accounts of ``fixtures.ACCOUNTS`` as Moment lists them
  (``id``, ``accountNumber``, ``externalTaxCode``, ``vatCategoryCode``, ``currentVatPercentage``).

``serve_raw(company, kind, id, json)`` makes one record answer exactly that JSON (single GET and
lists): how a sample saved by ``momentsync tenants probe --save`` (masked live data) becomes a
fixture, so a correction to the models is tested against what Moment really sent.

Order of checks (first failing answers): Basic auth ``apikey:<key>`` (401), rate limit per key
(429 above ``rate_limit_per_second``, default 30 as documented), company known (404) and granted to
the key (403), route (404/405), then the handler. Error bodies are ``{"message", "details"}``.

Admin (in process): ``add_api_key``, ``revoke_api_key``, ``create_/update_/delete_`` +
``customer|project|invoice``, ``finalize_invoice``, ``credit_invoice``, ``load`` (fixtures),
``get``, ``reset``; plus ``fault_plan``, ``request_log`` and ``GET {base}/_emulator/state|requests|faults``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from emulators.common import EmulatorServer, FaultPlan, Request, RequestLog, Response
from emulators.common.hosted import HostedEmulator
from emulators.moment.fixtures import ACCOUNTS, MomentDataset
from emulators.moment.pdf import invoice_pdf
from emulators.moment.state import COLLECTIONS, MomentState, Record, UnknownRecord, utc_now
from momentsync.moment.models import Customer, Invoice, Project

API_PREFIX = "/api/1.0"
LINES_PART = "invoiceLines"  # must match momentsync.moment.client.INVOICE_INCLUDE's lines part
FINANCIAL_ACCOUNTS = "financialAccounts"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 2000
_ROUTE = re.compile(
    r"^/api/1\.0/companies/(?P<company>[^/]+)/(?P<collection>[A-Za-z]+)"
    r"(?:/(?P<id>[^/]+))?(?:/include/(?P<include>[^/]+)|/(?P<pdf>pdf))?/?$"
)


class RateLimiter:
    """At most ``limit`` accepted requests per key in any sliding ``window`` seconds."""

    def __init__(
        self, limit: int | None, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._accepted: dict[str, deque[float]] = {}
        self.rejected = 0

    def allow(self, key: str) -> bool:
        if self.limit is None:
            return True
        now = self._clock()
        with self._lock:
            stamps = self._accepted.setdefault(key, deque())
            while stamps and now - stamps[0] >= self.window:
                stamps.popleft()
            if len(stamps) >= self.limit:
                self.rejected += 1
                return False
            stamps.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._accepted.clear()
            self.rejected = 0


class _ApiError(Exception):
    def __init__(self, status: int, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details

    def response(self) -> Response:
        return Response.json(self.status, {"message": self.message, "details": self.details})


class MomentEmulator(HostedEmulator):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        rate_limit_per_second: int | None = 30,
        latency: float = 0.0,
        clock: Callable[[], datetime] = utc_now,
        first_id: int = 70_000_000,
    ) -> None:
        self.state = MomentState(clock=clock, first_id=first_id)
        # (company, kind, id) -> the JSON to answer instead of the model's (see ``serve_raw``).
        self.raw: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.rate_limiter = RateLimiter(rate_limit_per_second)
        self.server = EmulatorServer(
            self.handle,
            host=host,
            port=port,
            fault_plan=FaultPlan(seed),
            request_log=RequestLog(),
            latency=latency,
            name="moment",
            admin_routes={"state": self.summary},
        )

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        """What ``MomentClient(base_url=...)`` / ``moment_api_base_url`` takes."""
        return self.server.base_url + API_PREFIX

    @property
    def rate_limit_per_second(self) -> int | None:
        return self.rate_limiter.limit

    @rate_limit_per_second.setter
    def rate_limit_per_second(self, value: int | None) -> None:
        self.rate_limiter.limit = value

    def reset(self) -> None:
        """Empty state, keys, request log, fault plan and rate windows."""
        self.state.reset()
        self.request_log.clear()
        self.fault_plan.clear()
        self.rate_limiter.reset()

    # -- admin: keys and data -----------------------------------------------------------------------

    def add_api_key(self, company: str, key: str) -> None:
        self.state.add_api_key(company, key)

    def revoke_api_key(self, key: str) -> None:
        self.state.revoke_api_key(key)

    def load(
        self, company: str, dataset: MomentDataset | Iterable[Record], *, keep_timestamps: bool = True
    ) -> None:
        """Store fixture records as they are (ids, numbers and, by default, timestamps kept)."""
        self.state.load(company, dataset, keep_timestamps=keep_timestamps)

    def get(self, company: str, kind: str, record_id: int) -> Any:
        return self.state.get(company, kind, record_id)

    def create_customer(self, company: str, **fields: Any) -> Customer:
        """Fields by Python name (``name``, ``organization_number``...); id and number are assigned."""
        return self.state.create(company, "customer", fields)

    def update_customer(self, company: str, customer_id: int, **changes: Any) -> Customer:
        return self.state.update(company, "customer", customer_id, changes)

    def delete_customer(self, company: str, customer_id: int) -> Customer:
        return self.state.delete(company, "customer", customer_id)

    def create_project(self, company: str, **fields: Any) -> Project:
        """``customer`` may be a customer id, a ``Customer`` or a ``CustomerRef``."""
        return self.state.create(company, "project", fields)

    def update_project(self, company: str, project_id: int, **changes: Any) -> Project:
        return self.state.update(company, "project", project_id, changes)

    def delete_project(self, company: str, project_id: int) -> Project:
        return self.state.delete(company, "project", project_id)

    def create_invoice(self, company: str, **fields: Any) -> Invoice:
        """Finalized unless ``invoice_state="draft"``; number, dates, totals and KID filled in.

        ``lines`` take ``fixtures.make_line(...)`` results; ``customer``/``project`` take ids or records.
        """
        return self.state.create(company, "invoice", fields)

    def update_invoice(self, company: str, invoice_id: int, **changes: Any) -> Invoice:
        return self.state.update(company, "invoice", invoice_id, changes)

    def delete_invoice(self, company: str, invoice_id: int) -> Invoice:
        return self.state.delete(company, "invoice", invoice_id)

    def finalize_invoice(self, company: str, invoice_id: int) -> Invoice:
        return self.state.finalize_invoice(company, invoice_id)

    def credit_invoice(self, company: str, invoice_id: int) -> Invoice:
        return self.state.credit_invoice(company, invoice_id)

    def summary(self) -> dict[str, Any]:
        with self.state.lock:
            return {
                "companies": {
                    code: {kind: len(records) for kind, records in company.records.items()}
                    for code, company in self.state.companies.items()
                },
                "api_keys": len(self.state.api_keys),
                "rate_limited": self.rate_limiter.rejected,
            }

    def serve_raw(self, company: str, kind: str, record_id: int, data: dict[str, Any]) -> None:
        """Answer ``data`` for this record (``kind``: customer / project / invoice)."""
        self.raw[(company, kind, record_id)] = data

    def load_samples(self, company: str, samples: dict[str, list[dict[str, Any]]]) -> int:
        """Serve probe samples (``{"customers": [json, ...], ...}``) as records of ``company``."""
        count = 0
        for collection, records in samples.items():
            kind = COLLECTIONS.get(collection)
            if kind is None:
                continue
            for data in records:
                self.state.put_raw(company, kind, data)
                self.serve_raw(company, kind, int(data["id"]), data)
                count += 1
        return count

    # -- HTTP ---------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if not request.path.startswith(API_PREFIX + "/"):
            return _ApiError(404, f"No endpoint {request.path}").response()
        try:
            return self._handle_api(request)
        except _ApiError as error:
            return error.response()

    def _handle_api(self, request: Request) -> Response:
        key = _api_key(request)
        match = _ROUTE.match(request.path)
        company = match["company"] if match else None
        access = self.state.key_access(key, company or "") if key else "unknown"
        if access == "unknown":
            raise _ApiError(401, "Unauthorized", "Full authentication is required to access this resource")
        if not self.rate_limiter.allow(key or ""):
            raise _ApiError(429, "Too Many Requests", "Rate limit: 30 requests per second per token")
        if match is not None and match["collection"] == FINANCIAL_ACCOUNTS and match["id"] is None:
            if company not in self.state.companies:
                raise _ApiError(404, f"Company {company} not found")
            return self._accounts(request)
        if match is None or match["collection"] not in COLLECTIONS:
            raise _ApiError(404, f"No endpoint {request.method} {request.path}")
        if company not in self.state.companies:
            raise _ApiError(404, f"Company {company} not found")
        if access == "forbidden":
            raise _ApiError(403, "Access denied", f"The API key has no access to company {company}")
        if request.method != "GET":
            raise _ApiError(405, f"Method {request.method} not supported by the emulator")
        kind = COLLECTIONS[match["collection"]]
        include = set(re.split(r"[+,]", unquote(match["include"]))) if match["include"] else set()
        if match["id"] is None:
            if match["pdf"]:
                raise _ApiError(404, f"No endpoint {request.method} {request.path}")
            return self._list(request, company, kind, include)
        if not match["id"].isdigit():
            raise _ApiError(400, "Invalid id", f"{match['id']!r} is not a number")
        record = self.state.find(company, kind, int(match["id"]))
        if record is None:
            raise _ApiError(404, f"{kind.capitalize()} with id {match['id']} not found")
        if match["pdf"]:
            if kind != "invoice":
                raise _ApiError(404, f"No endpoint {request.method} {request.path}")
            if not record.finalized:
                raise _ApiError(404, f"Invoice {record.id} is a draft and has no PDF")
            return Response(200, invoice_pdf(record), {"Content-Type": "application/pdf"})
        return Response.json(200, self._json(company, kind, record, include))

    def _json(self, company: str, kind: str, record: Record, include: set[str]) -> dict[str, Any]:
        raw = self.raw.get((company, kind, record.id))
        return raw if raw is not None else moment_json(record, include)

    def _accounts(self, request: Request) -> Response:
        accounts = [
            {
                "id": account.id,
                "accountNumber": account.number,
                "name": account.name,
                "externalTaxCode": account.saf_t_code,
                "vatCategoryCode": account.saf_t_code,
                "currentVatPercentage": _jsonable(account.vat_percent),
                "version": 1,
            }
            for account in ACCOUNTS.values()
        ]
        page = _int_param(request, "page", 0, minimum=0)
        size = _int_param(request, "size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
        return Response.json(
            200,
            {
                "content": accounts[page * size : (page + 1) * size],
                "page": {
                    "number": page,
                    "size": size,
                    "totalElements": len(accounts),
                    "totalPages": math.ceil(len(accounts) / size),
                },
            },
        )

    def _list(self, request: Request, company: str, kind: str, include: set[str]) -> Response:
        page = _int_param(request, "page", 0, minimum=0)
        size = _int_param(request, "size", DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)
        sort = request.query_value("sort") or "id,asc"
        if sort not in ("id,asc", "id,desc", "id"):
            raise _ApiError(400, "Invalid sort", f"unsupported sort {sort!r}")
        records = self.state.list(
            company,
            kind,
            modified_from=_time_param(request, "lastModifiedDateFrom"),
            modified_to=_time_param(request, "lastModifiedDateTo"),
            descending=sort == "id,desc",
        )
        chunk = records[page * size : (page + 1) * size]
        return Response.json(
            200,
            {
                "content": [self._json(company, kind, record, include) for record in chunk],
                "page": {
                    "number": page,
                    "size": size,
                    "totalElements": len(records),
                    "totalPages": math.ceil(len(records) / size),
                },
            },
        )


# -- helpers ----------------------------------------------------------------------------------------


def moment_json(record: Record, include: set[str] | None = None) -> dict[str, Any]:
    """A record as Moment's JSON: the models' aliases, amounts as JSON numbers, ISO dates."""
    data = record.model_dump(by_alias=True)
    if isinstance(record, Invoice) and LINES_PART not in (include or set()):
        lines_alias = Invoice.model_fields["lines"].alias or "lines"
        data.pop(lines_alias, None)
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Decimal):
        # Moment sends amounts as JSON numbers; repr(float) round-trips the 2-4 decimals used here.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _api_key(request: Request) -> str | None:
    header = request.header("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == "apikey" and password else None


def _int_param(request: Request, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_value(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ApiError(400, f"Invalid {name}", f"{raw!r} is not a number") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise _ApiError(400, f"Invalid {name}", f"{name} must be between {minimum} and {maximum or 'inf'}")
    return value


def _time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_value(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _ApiError(400, f"Invalid {name}", f"{raw!r} is not an ISO timestamp") from None
    # A timestamp without offset is read as UTC (Moment's behaviour here is unknown).
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["API_PREFIX", "MomentEmulator", "RateLimiter", "UnknownRecord", "moment_json"]
