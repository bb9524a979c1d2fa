"""``SpareBank1Emulator``: the SpareBank 1 Regnskap (Unimicro platform) subset a Moment connector needs.

One host plays every service the discovery document names: ``{base}`` is AppFramework (``/api/...``),
``{base}/identity`` the identity server, ``{base}/files`` the file service (not emulated: 501).

Order of checks for ``/api/init`` and ``/api/biz`` (first failing answers):

1. rate limit per token, when ``rate_limit_per_second`` is set (429; the platform documents none);
2. bearer token: missing, unknown, expired or without the AppFramework scope → 401;
3. (biz only) ``CompanyKey`` header: missing or not a GUID → 401 [INF]; a company that does not exist or
   for which the app is not activated → 403 with the activation-gate text;
4. route → 404 ``{"Message"}``; action not known for the route → 404 [INF];
5. the handler, under one lock, in a snapshot: a request that fails changes nothing.

Read-only admin routes: ``GET {base}/_emulator/state|requests|faults``.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from emulators.common import EmulatorServer, FaultPlan, Request, RequestLog, Response
from emulators.common.hosted import HostedEmulator
from emulators.sparebank1 import schema as S
from emulators.sparebank1.domain import Domain
from emulators.sparebank1.errors import BizError, message_error, not_activated, not_found, unauthorized
from emulators.sparebank1.identity import REQUIRED_SCOPE, App, IdentityServer, TokenError
from emulators.sparebank1.query import apply_query, select_fields
from emulators.sparebank1.store import (
    Behaviour,
    Company,
    expand_tree,
    knows_path,
    payload_tree,
    render,
    resolve_path,
    utc_now,
)

IDENTITY_PREFIX = "/identity"
FILES_PREFIX = "/files"
BIZ_PREFIX = "/api/biz/"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Routes a client may POST/PUT/DELETE as plain CRUD (journal entries only through their actions).
WRITABLE_ROUTES = {"customers", "projects", "invoices", "products", "accounts"}
DELETABLE_ROUTES = {"customers", "projects", "invoices", "products"}


class SpareBank1Emulator(HostedEmulator):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        latency: float = 0.0,
        token_lifetime: float = 3600.0,
        max_assertion_lifetime: float = 300.0,
        createguid_replay: str = "error",
        createguid_replay_status: int = 400,
        dedupe_top_level_createguid: bool = False,
        keep_client_invoice_number: bool = False,
        honour_client_journal_entry_number: bool = True,
        draft_line_amounts_include_vat: bool = True,
        customer_number_range: tuple[int, int] | None = (100000, 199999),
        default_page_size: int = 100,
        rate_limit_per_second: float | None = None,
        today: date | Callable[[], date] | None = None,
    ) -> None:
        if createguid_replay not in ("error", "reuse"):
            raise ValueError("createguid_replay must be 'error' or 'reuse'")
        self.lock = threading.RLock()
        self._seed = seed
        self.behaviour = Behaviour(
            createguid_replay=createguid_replay,
            createguid_replay_status=createguid_replay_status,
            dedupe_top_level_createguid=dedupe_top_level_createguid,
            keep_client_invoice_number=keep_client_invoice_number,
            honour_client_journal_entry_number=honour_client_journal_entry_number,
            draft_line_amounts_include_vat=draft_line_amounts_include_vat,
            customer_number_range=customer_number_range,
            default_page_size=default_page_size,
        )
        if today is None:
            self.today: Callable[[], date] = date.today
        elif isinstance(today, date):
            self.today = lambda: today
        else:
            self.today = today
        self.domain = Domain(self.behaviour, utc_now, lambda: self.today())
        self.identity = IdentityServer(
            token_lifetime=token_lifetime, max_assertion_lifetime=max_assertion_lifetime
        )
        self.companies: dict[str, Company] = {}
        self._company_ids = 0
        self.rate_limit_per_second = rate_limit_per_second
        # book-journal-entries answers `{"type": "object"}` in unimicro-biz-swagger.json: a bare object,
        # here the (first) booked entry. "empty" answers {} (an answer without an ID, which the
        # connector must survive by looking the voucher up); "list" the array this emulator used to.
        self.booking_answer = "object"
        self._recent: dict[str, deque[float]] = {}
        self.rate_limited = 0
        self.server = EmulatorServer(
            self.handle,
            host=host,
            port=port,
            fault_plan=FaultPlan(seed),
            request_log=RequestLog(),
            latency=latency,
            name="sparebank1",
            admin_routes={"state": self.state},
        )

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def identity_url(self) -> str:
        return self.server.base_url + IDENTITY_PREFIX

    @property
    def token_endpoint(self) -> str:
        return self.identity_url + "/connect/token"

    # -- admin -------------------------------------------------------------------------------------

    def register_app(
        self,
        client_id: str,
        public_key_pem_or_cert: Any,
        *,
        name: str = "Moment Team",
        scopes: Iterable[str] = (REQUIRED_SCOPE,),
    ) -> None:
        """Register a server client and its certificate (PEM/DER cert, PEM public key, or key object)."""
        with self.lock:
            self.identity.register(client_id, public_key_pem_or_cert, name, frozenset(scopes))

    def activate_app_for_company(self, client_id: str, company_key: str) -> None:
        """The marketplace activation: the app may now act on this company."""
        with self.lock:
            self.identity.apps[client_id].companies.add(self.company(company_key).key.lower())

    def deactivate_app_for_company(self, client_id: str, company_key: str) -> None:
        with self.lock:
            self.identity.apps[client_id].companies.discard(company_key.lower())

    def issue_token(self, client_id: str) -> dict[str, Any]:
        """A token without the assertion dance (for tests of other components)."""
        with self.lock:
            return self.identity.issue(client_id, frozenset({REQUIRED_SCOPE}), self.base_url)

    def expire_tokens(self) -> int:
        with self.lock:
            return self.identity.expire_tokens()

    def add_company(
        self,
        name: str = "Acme AS",
        *,
        key: str | None = None,
        org_number: str = "999999999",
        is_test: bool = True,
        seed_defaults: bool = True,
    ) -> Company:
        """A company with its own tables; by default seeded with currencies, a chart subset and VAT types."""
        with self.lock:
            self._company_ids += 1
            company = Company(
                id=self._company_ids,
                key=key or str(uuid.UUID(int=(self._seed << 64) + self._company_ids)),
                name=name,
                org_number=org_number,
                is_test=is_test,
                created_at=utc_now(),
            )
            self.companies[company.key.lower()] = company
            if seed_defaults:
                self.domain.seed_defaults(company)
            return company

    def company(self, company_key: str) -> Company:
        with self.lock:
            return self.companies[company_key.lower()]

    def seed_account(self, company_key: str, number: int, name: str, vat_code: str | None = None) -> dict:
        with self.lock:
            return dict(self.domain.seed_account(self.company(company_key), number, name, vat_code))

    def seed_vat_type(
        self,
        company_key: str,
        code: str,
        name: str,
        percent: str | Decimal,
        outgoing_account: int | None = None,
    ) -> dict:
        with self.lock:
            return dict(
                self.domain.seed_vat_type(self.company(company_key), code, name, percent, outgoing_account)
            )

    def seed_currency(self, company_key: str, code: str, name: str) -> dict:
        with self.lock:
            return dict(self.domain.seed_currency(self.company(company_key), code, name))

    def records(self, company_key: str, route: str, expand: str | None = None) -> list[dict[str, Any]]:
        """Stored records of a route (``customers``, ``invoices``, ``journalentrylines`` …), rendered."""
        with self.lock:
            company = self.company(company_key)
            entity = S.ROUTES[route].name
            tree = expand_tree(expand)
            return [render(company, entity, r, tree) for r in company.rows(entity)]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "companies": [
                    {
                        "Key": c.key,
                        "Name": c.name,
                        "counts": {entity: len(c.rows(entity)) for entity in sorted(c.tables)},
                    }
                    for c in self.companies.values()
                ],
                "apps": {
                    a.client_id: {"name": a.name, "companies": sorted(a.companies)}
                    for a in self.identity.apps.values()
                },
                "token_requests": self.identity.token_requests,
                "rate_limited": self.rate_limited,
            }

    def reset(self) -> None:
        """Forget companies, records, tokens, activations, logs and faults. Registered apps stay."""
        with self.lock:
            self.companies.clear()
            self._company_ids = 0
            self.identity.reset()
            self._recent.clear()
            self.rate_limited = 0
            self.booking_answer = "object"
        self.fault_plan.clear(seed=self._seed)
        self.request_log.clear()

    # -- HTTP --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        try:
            if path == "/api/endpoints" and request.method == "GET":
                return _json(200, self._endpoints())
            if path.startswith(IDENTITY_PREFIX):
                return self._identity(request, path)
            if path.startswith(FILES_PREFIX):
                return _json(501, {"Message": "The file service is not emulated"})
            if path.startswith("/api/"):
                return self._api(request, path)
            raise not_found(f"Route {path}")
        except BizError as error:
            return _json(error.status, error.body, error.headers)

    def _endpoints(self) -> dict[str, str]:
        base = self.base_url
        return {
            "AppFramework": base,
            "Identity": base + IDENTITY_PREFIX,
            "Files": base + FILES_PREFIX,
            "Job": base + "/job",
            "Integration": base + "/integration",
        }

    def _identity(self, request: Request, path: str) -> Response:
        if path == IDENTITY_PREFIX + "/.well-known/openid-configuration" and request.method == "GET":
            return _json(
                200,
                {
                    "issuer": self.identity_url,
                    "token_endpoint": self.token_endpoint,
                    "grant_types_supported": ["client_credentials"],
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                    "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
                    "scopes_supported": [REQUIRED_SCOPE],
                },
            )
        if path == IDENTITY_PREFIX + "/connect/token" and request.method == "POST":
            if "application/x-www-form-urlencoded" not in request.content_type:
                return _json(400, {"error": "invalid_request", "error_description": "form body expected"})
            with self.lock:
                try:
                    return _json(
                        200,
                        self.identity.token(request.body, self.token_endpoint, self.base_url),
                        {"Cache-Control": "no-store"},
                    )
                except TokenError as error:
                    return _json(error.status, error.body())
        raise not_found(f"Route {path}")

    def _api(self, request: Request, path: str) -> Response:
        with self.lock:
            self._rate_limit(request)
            app = self.identity.authenticate(request.header("Authorization"))
            if app is None:
                raise unauthorized()
            if path == "/api/init/companies" and request.method == "GET":
                return _json(
                    200,
                    [
                        self._company_summary(self.companies[k])
                        for k in sorted(app.companies)
                        if k in self.companies
                    ],
                )
            if not path.startswith(BIZ_PREFIX):
                raise not_found(f"Route {path}")
            company = self._company_for(request, app)
            snapshot = company.snapshot()
            try:
                return self._biz(request, path[len(BIZ_PREFIX) :], company)
            except BizError:
                company.restore(snapshot)
                raise

    def _rate_limit(self, request: Request) -> None:
        if not self.rate_limit_per_second:
            return
        key = request.header("Authorization") or "anonymous"
        now = time.monotonic()
        window = self._recent.setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.rate_limit_per_second:
            self.rate_limited += 1
            raise BizError(429, {"Message": "Too many requests"}, {"Retry-After": "1"})
        window.append(now)

    def _company_for(self, request: Request, app: App) -> Company:
        company_key = (request.header("CompanyKey") or "").strip()
        if not GUID.match(company_key):
            # [INF] the platform's answer to a missing CompanyKey is not documented.
            raise unauthorized()
        company = self.companies.get(company_key.lower())
        if company is None or company.key.lower() not in {k.lower() for k in app.companies}:
            raise not_activated(app.name)
        return company

    @staticmethod
    def _company_summary(company: Company) -> dict[str, Any]:
        return {
            "ID": company.id,
            "Key": company.key,
            "Name": company.name,
            "OrganizationNumber": company.org_number,
            "IsTest": company.is_test,
            "Deleted": False,
            "CreatedAt": company.created_at,
            "WebHookSubscriberId": None,
            "FileFlowEmail": None,
        }

    # -- business API ------------------------------------------------------------------------------

    def _biz(self, request: Request, rest: str, company: Company) -> Response:
        parts = [p for p in rest.split("/") if p]
        route = parts[0].lower() if parts else ""
        etype = S.ROUTES.get(route)
        if etype is None or len(parts) > 2:
            raise not_found(f"Route api/biz/{rest}")
        record_id: int | None = None
        if len(parts) == 2:
            if not parts[1].isdigit():
                raise not_found(f"Route api/biz/{rest}")
            record_id = int(parts[1])
        action = _query(request, "action")
        if action:
            return self._action(request, company, route, record_id, action)
        method = request.method
        if method == "GET":
            return self._get(request, company, etype, record_id)
        if method == "POST" and record_id is None and route in WRITABLE_ROUTES:
            payload = _body(request)
            record = self.domain.writer.save_top(company, etype.name, payload, None)
            return _json(200, render(company, etype.name, record, payload_tree(etype, payload)))
        if method == "PUT" and record_id is not None and route in WRITABLE_ROUTES:
            existing = self._existing(company, etype, record_id)
            payload = _body(request)
            record = self.domain.writer.save_top(company, etype.name, payload, existing)
            return _json(200, render(company, etype.name, record, payload_tree(etype, payload)))
        if method == "DELETE" and record_id is not None and route in DELETABLE_ROUTES:
            existing = self._existing(company, etype, record_id)
            if route == "invoices" and existing["StatusCode"] != S.INVOICE_DRAFT:
                raise message_error(400, "Only draft invoices can be deleted")
            existing["Deleted"] = True
            return Response.empty(204)
        raise message_error(405, f"The requested resource does not support http method '{method}'.")

    def _existing(self, company: Company, etype: S.EntityType, record_id: int) -> dict[str, Any]:
        record = company.get(etype.name, record_id)
        if record is None:
            raise not_found(f"{etype.name} with ID {record_id}")
        return record

    def _get(
        self, request: Request, company: Company, etype: S.EntityType, record_id: int | None
    ) -> Response:
        tree = expand_tree(_query(request, "expand"))
        select = _query(request, "select")
        if record_id is not None:
            record = self._existing(company, etype, record_id)
            return _json(200, select_fields(render(company, etype.name, record, tree), select))
        rows = apply_query(
            company.rows(etype.name),
            request.query,
            knows_field=lambda name: knows_path(etype.name, name),
            resolve=resolve_path(company, etype.name),
            default_page_size=self.behaviour.default_page_size,
        )
        return _json(200, [select_fields(render(company, etype.name, r, tree), select) for r in rows])

    def _action(
        self, request: Request, company: Company, route: str, record_id: int | None, action: str
    ) -> Response:
        name, method = action.lower(), request.method
        if route == "projects" and method == "POST" and name in self.domain.PROJECT_TRANSITIONS:
            target_id = record_id
            query_id = _query(request, "projectID")
            if query_id is not None and record_id is not None and query_id != str(record_id):
                raise message_error(400, "projectID does not match the project in the route")
            if target_id is None and query_id and query_id.isdigit():
                target_id = int(query_id)
            project = self._existing(company, S.ROUTES["projects"], target_id or 0)
            self.domain.project_transition(company, project, action)
            return Response.empty(204)
        if route == "customers" and method == "PUT" and name in ("activate", "deactivate"):
            raw = _query(request, "id") or (str(record_id) if record_id else "")
            customer = self._existing(company, S.ROUTES["customers"], int(raw) if raw.isdigit() else 0)
            self.domain.set_customer_status(company, customer, name)
            return Response.empty(204)
        if route == "invoices" and record_id is not None:
            invoice = self._existing(company, S.ROUTES["invoices"], record_id)
            if method == "POST" and name == "invoice":
                self.domain.invoice_transition(company, invoice)
                return Response.empty(204)
            if method == "PUT" and name == "create-credit-draft-invoice":
                draft = self.domain.create_credit_draft(company, invoice)
                return _json(200, render(company, "CustomerInvoice", draft, {"Items": {}}))
        if route == "journalentries" and record_id is None:
            if method == "POST" and name in ("book-journal-entries", "book-journal-entries-create-invoices"):
                entries = self.domain.book_journal_entries(
                    company,
                    _body(request),
                    create_invoices=name.endswith("create-invoices"),
                    generate_kid=(_query(request, "generateKID") or "").lower() == "true",
                )
                rendered = [self.domain.render_entry(company, e) for e in entries]
                if self.booking_answer == "list":
                    return _json(200, rendered)
                return _json(200, rendered[0] if self.booking_answer == "object" and rendered else {})
            if method == "POST" and name in ("credit-journal-entry", "credit-journalentry"):
                number = _query(request, "journalEntryNumber")
                if not number:
                    raise message_error(400, "journalEntryNumber is required")
                entry = self.domain.credit_journal_entry(company, number, _query(request, "creditDate"))
                return _json(200, self.domain.render_entry(company, entry))
            if method == "POST" and name == "nextjournalentrynumber":
                year = self.today().year
                counter = company.counters.get(f"journal-{year}", 1)
                return _json(200, f"{counter}-{year}")
        if route == "vattypes" and method == "GET" and name == "valid" and record_id is None:
            rows = [r for r in company.rows("VatType") if r.get("Visible")]
            return _json(200, [render(company, "VatType", r, {}) for r in rows])
        raise not_found(f"Action {action} on api/biz/{route}")


def _query(request: Request, name: str) -> str | None:
    for key, values in request.query.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None


def _body(request: Request) -> Any:
    try:
        return json.loads(request.body or b"null", parse_float=Decimal)
    except ValueError as exc:
        raise message_error(400, "The request body is not valid JSON") from exc


def _jsonable(value: Any) -> Any:
    # Decimal → float is exact in the JSON text for the ≤4-decimal kroner amounts used here (repr
    # round-trips).
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and value.as_tuple().exponent >= 0
            else float(value)
        )
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, _jsonable(payload), headers)
