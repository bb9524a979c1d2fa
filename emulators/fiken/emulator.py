"""``FikenEmulator``: a stateful Fiken API v2 + OAuth server for tests and local runs.

One host serves both production hosts: ``{base}/api/v2/...`` (api.fiken.no) and ``{base}/oauth/...``
(fiken.no), so settings take ``fiken_api_base_url = base + "/api/v2"`` and
``fiken_oauth_base_url = base``. Read-only admin routes: ``GET {base}/_emulator/state|requests|faults|
violations|stats``.

Order of checks for an ``/api/v2`` request (first failing answers):

1. rate rule per bearer token (429, ``rate_rule``) — its "in flight" window lasts until the answer
   is written, so server latency and ``slow`` faults count as in flight;
2. bearer token (401: missing, unknown, expired, revoked);
3. route (404 unknown path, 405 method, 501 spec path the emulator does not implement);
4. company: not granted to the token or no API module (403), unknown (404), project route without
   the project module (402);
5. media type (415: JSON routes want ``application/json``, attachment routes ``multipart/form-data``);
6. contract (400 naming the violations, when ``validate_contract``);
7. the handler, under one lock (``emulators.fiken.api``).

Every request is checked against the contract (recorded in ``contract_violations`` even when an
earlier check already refused it) and so is every answer of a routed request.
"""

from __future__ import annotations

import random
import threading
import uuid as uuid_module
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import InvalidOperation
from typing import Any

from emulators.common import EmulatorServer, FaultPlan, Request, RequestLog, Response
from emulators.common.hosted import HostedEmulator
from emulators.fiken.api import API_PREFIX, ApiError, Ctx, FikenApi, paginate
from emulators.fiken.contract import ContractViolation, FikenContract, load_contract
from emulators.fiken.oauth import DEFAULT_ACCESS_TOKEN_LIFETIME, Grant, OAuthServer
from emulators.fiken.rate_rule import RateRule
from emulators.fiken.state import BankAccount, Company

FILES_PREFIX = API_PREFIX + "/files/"
MINIMAL_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass(frozen=True)
class BankAccountSeed:
    name: str = "Driftskonto"
    number: str = "12345678903"
    type: str = "normal"
    verified: bool = True


class FikenEmulator(HostedEmulator):
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        validate_contract: bool = True,
        rate_limit: bool = True,
        rate_tolerance: float = 0.02,
        max_starts_per_second: int = 4,
        access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME,
        code_lifetime: float = 300.0,
        rotate_refresh_tokens: bool = True,
        verify_new_bank_accounts: bool = False,
        direct_invoice_uuid_filterable: bool = False,
        latency: float = 0.0,
        today: date | Callable[[], date] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self._seed = seed
        self._random = random.Random(seed)
        self._ids = 1000
        self.companies: dict[str, Company] = {}
        self._files: dict[str, tuple[str, bytes | None]] = {}
        self.verify_new_bank_accounts = verify_new_bank_accounts
        # [INF] whether Fiken lets a direct invoice's request uuid be found with ?invoiceDraftUuid= is
        # not documented (docs/reference/fiken.md §4); off by default so a connector does not come to rely on
        # it.
        self.direct_invoice_uuid_filterable = direct_invoice_uuid_filterable
        self.set_today(today)
        self.validate_contract = validate_contract
        self.contract: FikenContract | None = load_contract() if validate_contract else None
        self.contract_violations: list[ContractViolation] = []
        self.contract_exempted: list[ContractViolation] = []
        self.rate_rule = RateRule(
            enabled=rate_limit, max_starts_per_second=max_starts_per_second, tolerance=rate_tolerance
        )
        self.oauth = OAuthServer(
            random=self._random,
            all_companies=lambda: list(self.companies),
            access_token_lifetime=access_token_lifetime,
            code_lifetime=code_lifetime,
            rotate_refresh_tokens=rotate_refresh_tokens,
        )
        self.api = FikenApi(self)
        self.server = EmulatorServer(
            self.handle,
            host=host,
            port=port,
            fault_plan=FaultPlan(seed),
            request_log=RequestLog(),
            latency=latency,
            name="fiken",
            admin_routes={"state": self.state, "violations": self._violations_dump, "stats": self.stats},
        )

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def api_base_url(self) -> str:
        return self.server.base_url + API_PREFIX

    # -- admin: companies and records ----------------------------------------------------------------

    def add_company(
        self,
        slug: str,
        name: str | None = None,
        *,
        organization_number: str = "999999999",
        vat_registered: bool = True,
        has_project_module: bool = True,
        has_api_access: bool = True,
        test_company: bool = True,
        invoice_counter: int | None = 10000,
        credit_note_counter: int | None = 10000,
        bank_accounts: Iterable[BankAccountSeed] = (BankAccountSeed(),),
    ) -> Company:
        """A company; ``invoice_counter=None`` leaves the invoice counter uninitialised."""
        with self.lock:
            company = Company(
                slug=slug,
                name=name or slug.replace("-", " ").title(),
                organization_number=organization_number,
                vat_registered=vat_registered,
                has_project_module=has_project_module,
                has_api_access=has_api_access,
                test_company=test_company,
                invoice_counter=invoice_counter,
                credit_note_counter=credit_note_counter,
                created_date=self.today().isoformat(),
            )
            self.companies[slug] = company
            for seed in bank_accounts:
                self.new_bank_account(
                    company, name=seed.name, number=seed.number, type=seed.type, verified=seed.verified
                )
            return company

    def company(self, slug: str) -> Company:
        with self.lock:
            return self.companies[slug]

    def configure_company(self, slug: str, **knobs: Any) -> Company:
        """Change knobs of a company: vat_registered, has_project_module, has_api_access, ..."""
        with self.lock:
            company = self.companies[slug]
            for key, value in knobs.items():
                if not hasattr(company, key) or key in ("contacts", "projects", "invoices", "sales"):
                    raise AttributeError(f"no company knob {key!r}")
                setattr(company, key, value)
            return company

    def add_bank_account(
        self, slug: str, name: str, number: str, *, type: str = "normal", verified: bool = True
    ) -> dict[str, Any]:
        with self.lock:
            return self.new_bank_account(
                self.companies[slug], name=name, number=number, type=type, verified=verified
            ).result()

    def verify_bank_account(self, slug: str, account: str | int, verified: bool = True) -> None:
        """Mark a bank account (by accountCode, account number or id) as verified for the company."""
        with self.lock:
            for bank in self.companies[slug].bank_accounts:
                if account in (bank.account_code, bank.bank_account_number, bank.bank_account_id):
                    bank.verified = verified
                    return
            raise KeyError(f"no bank account {account!r} in {slug}")

    def set_invoice_counter(self, slug: str, value: int | None) -> None:
        with self.lock:
            self.companies[slug].invoice_counter = value

    def set_credit_note_counter(self, slug: str, value: int | None) -> None:
        with self.lock:
            self.companies[slug].credit_note_counter = value

    def contacts(self, slug: str) -> list[dict[str, Any]]:
        """Stored contacts, writeOnly fields (memberNumberString, ...) included: admin sees all."""
        with self.lock:
            company = self.companies[slug]
            return [{**c, **company.contact_hidden.get(i, {})} for i, c in company.contacts.items()]

    def projects(self, slug: str) -> list[dict[str, Any]]:
        with self.lock:
            company = self.companies[slug]
            return [self.api.project_out(company, p) for p in company.projects.values()]

    def invoices(self, slug: str) -> list[dict[str, Any]]:
        with self.lock:
            company = self.companies[slug]
            return [self.api.invoice_out(company, i) for i in company.invoices.values()]

    def credit_notes(self, slug: str) -> list[dict[str, Any]]:
        with self.lock:
            company = self.companies[slug]
            return [self.api.credit_note_out(company, n) for n in company.credit_notes.values()]

    def sales(self, slug: str) -> list[dict[str, Any]]:
        with self.lock:
            company = self.companies[slug]
            return [self.api.sale_out(company, s) for s in company.sales.values()]

    def attachments(self, slug: str) -> list[dict[str, Any]]:
        """Stored attachments with their bytes (``content``)."""
        with self.lock:
            return [dict(a) for a in self.companies[slug].attachments]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "companies": {slug: c.records() for slug, c in self.companies.items()},
                "stats": self.stats(),
            }

    def stats(self) -> dict[str, Any]:
        return {
            "rateLimited": self.rate_rule.rejected,
            "rateLimitedByReason": dict(self.rate_rule.rejected_by_reason),
            "tokenCalls": dict(self.oauth.token_calls),
            "faultsFired": self.fault_plan.fired(),
            "contractViolations": len(self.contract_violations),
            "requests": len(self.request_log),
        }

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 by the rate rule."""
        return self.rate_rule.rejected

    @property
    def token_calls(self) -> Counter[str]:
        """Token endpoint calls by ``grant_type``."""
        return self.oauth.token_calls

    def reset(self) -> None:
        """Forget companies, records, tokens, logs, faults, violations and counters. OAuth clients stay."""
        with self.lock:
            self.companies.clear()
            self._files.clear()
            self._ids = 1000
            self._random.seed(self._seed)
            self.contract_violations.clear()
            self.contract_exempted.clear()
        self.oauth.reset()
        self.rate_rule.reset()
        self.fault_plan.clear(seed=self._seed)
        self.request_log.clear()

    def set_today(self, today: date | Callable[[], date] | None) -> None:
        """The date used for createdDate/lastModifiedDate (default: the real today)."""
        if today is None:
            self.today: Callable[[], date] = date.today
        elif isinstance(today, date):
            self.today = lambda: today
        else:
            self.today = today

    # -- admin: OAuth ---------------------------------------------------------------------------------

    def register_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str]) -> None:
        self.oauth.register_client(client_id, client_secret, redirect_uris)

    def issue_tokens(
        self,
        companies: Iterable[str] | None = None,
        *,
        client_id: str | None = None,
        user: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A fresh grant's ``{"access_token", "refresh_token", "token_type", "expires_in"}``."""
        return self.oauth.issue_tokens(companies, client_id=client_id, user=user)

    def add_personal_token(self, token: str, companies: Iterable[str] | None = None) -> None:
        """A never-expiring bearer token with a value the caller chose (for local runs)."""
        with self.oauth.lock:
            grant = self.oauth._new_grant(
                "personal",
                dict(self.oauth.user),
                set(companies) if companies is not None else set(self.companies),
            )
            from emulators.fiken.oauth import AccessToken

            self.oauth.access_tokens[token] = AccessToken(grant.grant_id, None)

    def revoke_consent(
        self, *, client_id: str | None = None, company: str | None = None, whole_grant: bool = False
    ) -> int:
        """The user revokes the app (or one company) in Fiken; tokens of those grants stop working."""
        return self.oauth.revoke_consent(client_id=client_id, company=company, whole_grant=whole_grant)

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token this emulator has handed out, spent ones included."""
        with self.oauth.lock:
            return list(self.oauth.issued)

    def expire_access_tokens(self) -> None:
        self.oauth.expire_access_tokens()

    @property
    def authorize_decision(self) -> str:
        return self.oauth.decision

    @authorize_decision.setter
    def authorize_decision(self, decision: str) -> None:
        if decision not in ("approve", "deny"):
            raise ValueError("decision is approve or deny")
        self.oauth.decision = decision

    def set_consent(
        self, *, companies: Iterable[str] | None = None, user: dict[str, str] | None = None
    ) -> None:
        """What the emulated user grants at /oauth/authorize (default: every company)."""
        self.oauth.consent_companies = list(companies) if companies is not None else None
        if user is not None:
            self.oauth.user = dict(user)

    # -- ids and files (used by the API) ----------------------------------------------------------------

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1
            return self._ids

    def new_uuid(self) -> str:
        with self.lock:
            return str(uuid_module.UUID(int=self._random.getrandbits(128), version=4))

    def new_bank_account(
        self,
        company: Company,
        *,
        name: str,
        number: str,
        type: str = "normal",
        verified: bool = False,
        inactive: bool = False,
        bic: str | None = None,
        iban: str | None = None,
        foreign_service: str | None = None,
    ) -> BankAccount:
        account = BankAccount(
            self.next_id(),
            name,
            number,
            f"1920:{company.next_bank_ledger}",
            type=type,
            verified=verified,
            inactive=inactive,
            bic=bic,
            iban=iban,
            foreign_service=foreign_service,
        )
        company.next_bank_ledger += 1
        company.bank_accounts.append(account)
        return account

    def file_attachment(
        self, filename: str, kind: str, identifier: str, *, file_id: str | None = None
    ) -> dict[str, Any]:
        """An ``attachment`` object whose downloadUrl this emulator serves (bearer token required)."""
        file_id = file_id or self.new_uuid()
        self._files.setdefault(file_id, (filename, None))
        return {
            "identifier": identifier,
            "downloadUrl": f"{self.api_base_url}/files/{file_id}/{filename}",
            "downloadUrlWithFikenNormalUserCredentials": f"{self.base_url}/filer/{file_id}/{filename}",
            "type": kind,
        }

    # -- request handling ---------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/oauth/"):
            return self._oauth(request)
        if path.startswith(FILES_PREFIX):
            return self._file(request)
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return self._rate_limited_api(request)
        return Response.json(404, {"message": f"Not found: {path}"})

    def _oauth(self, request: Request) -> Response:
        routes = {
            ("GET", "/oauth/authorize"): self.oauth.authorize,
            ("POST", "/oauth/token"): self.oauth.token,
            ("POST", "/oauth/revoke"): self.oauth.revoke,
        }
        endpoint = routes.get((request.method, request.path.rstrip("/")))
        if endpoint is None:
            known = any(p == request.path.rstrip("/") for _, p in routes)
            return Response.json(405 if known else 404, {"message": "Not found"})
        return endpoint(request)

    def _file(self, request: Request) -> Response:
        if self.oauth.authenticate(request.header("Authorization")).grant is None:
            return Response.json(401, {"message": "Unauthorized"})
        file_id = request.path[len(FILES_PREFIX) :].split("/", 1)[0]
        with self.lock:
            known = self._files.get(file_id)
            stored = next(
                (a for c in self.companies.values() for a in c.attachments if a["attachmentId"] == file_id),
                None,
            )
        if stored is not None:
            return Response(
                200, stored["content"], {"Content-Type": stored["contentType"] or "application/pdf"}
            )
        if known is not None:
            return Response(200, MINIMAL_PDF, {"Content-Type": "application/pdf"})
        return Response.json(404, {"message": "No file found"})

    def _rate_limited_api(self, request: Request) -> Response:
        authorization = request.header("Authorization") or ""
        token = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if token:
            refusal = self.rate_rule.try_start(token)
            if refusal == "concurrent":
                return Response.json(
                    429,
                    {
                        "message": "Too many concurrent requests. Only one concurrent "
                        "API request is allowed per access token."
                    },
                )
            if refusal == "rate":
                return Response.json(
                    429, {"message": "Too many requests. Do not send more than 4 requests per second."}
                )
        try:
            response = self._api(request)
        except Exception as exc:  # answer 500 but still end the in-flight window below
            response = Response.json(500, {"message": f"emulator error: {type(exc).__name__}"})
        if token and self.rate_rule.enabled:
            response.on_sent.append(lambda: self.rate_rule.finish(token))
        return response

    def _api(self, request: Request) -> Response:
        api_path = request.path[len(API_PREFIX) :] or "/"
        request_check = self._check_request(request)
        auth = self.oauth.authenticate(request.header("Authorization"))
        if auth.grant is None:
            return Response.json(401, {"message": auth.problem})
        route, params, path_known = self.api.match(request.method, api_path)
        if route is None:
            if path_known:
                return Response.json(405, {"message": f"Method {request.method} is not allowed here"})
            in_spec = self.contract is not None and self.contract.route(api_path) is not None
            if in_spec:
                return Response.json(
                    501,
                    {
                        "message": f"{request.method} {api_path} is in Fiken's API but not "
                        "implemented by the emulator"
                    },
                )
            return Response.json(404, {"message": f"Not found: {api_path}"})
        refusal = self._company_refusal(auth.grant, params.get("slug"), route.needs_project_module)
        if refusal is not None:
            return refusal
        unsupported = self._media_type_refusal(request, route.multipart)
        if unsupported is not None:
            return unsupported
        if request_check:
            return Response.json(
                400,
                {
                    "message": "Request does not match Fiken's API: "
                    + "; ".join(v.message for v in request_check)
                },
            )
        with self.lock:
            company = self.companies.get(params.get("slug", ""))
            ctx = Ctx(request, company, params, self, dict(auth.grant.user))  # type: ignore[arg-type]
            try:
                if route.template == "/companies":
                    response = self._list_companies(request, auth.grant)
                else:
                    response = route.handler(ctx)
            except ApiError as error:
                response = Response.json(error.status, {"message": error.message})
            except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
                response = Response.json(400, {"message": f"Invalid request ({type(exc).__name__}: {exc})"})
        self._check_response(request, response)
        return response

    def _list_companies(self, request: Request, grant: Grant) -> Response:
        companies = [self.companies[s].result() for s in grant.companies if s in self.companies]
        field, _, direction = (request.query_value("sortBy") or "name asc").partition(" ")
        field = {"createdDate": "creationDate"}.get(field, field)
        companies.sort(key=lambda c: str(c.get(field, "")), reverse=direction == "desc")
        return paginate(request, companies)

    def _company_refusal(self, grant: Grant, slug: str | None, needs_project_module: bool) -> Response | None:
        if slug is None:
            return None
        if slug not in grant.companies:
            return Response.json(
                403, {"message": f"Access to company {slug} has not been granted to this app"}
            )
        with self.lock:
            company = self.companies.get(slug)
        if company is None:
            return Response.json(404, {"message": f"No company found with slug {slug}"})
        if not company.has_api_access:
            return Response.json(403, {"message": f"The company {slug} does not have the API module"})
        if needs_project_module and not company.has_project_module:
            return Response.json(
                402,
                {
                    "message": f"The company {slug} does not have the project module "
                    "(Prosjekt). Activate it in Fiken to use projects."
                },
            )
        return None

    @staticmethod
    def _media_type_refusal(request: Request, multipart: bool) -> Response | None:
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        content_type = request.content_type
        if multipart:
            if not content_type.startswith("multipart/form-data"):
                return Response.json(415, {"message": "Wrong media type: use multipart/form-data"})
            return None
        if request.body and not content_type.startswith("application/json"):
            return Response.json(415, {"message": "Wrong media type: we accept application/json only"})
        return None

    # -- contract wiring ------------------------------------------------------------------------------------

    def _check_request(self, request: Request) -> list[ContractViolation]:
        if self.contract is None:
            return []
        check = self.contract.check_request(request.method, request.url, request.headers, request.body)
        with self.lock:
            self.contract_violations.extend(check.violations)
            self.contract_exempted.extend(check.exempted)
        return check.violations

    def _check_response(self, request: Request, response: Response) -> None:
        if self.contract is None:
            return
        check = self.contract.check_response(
            request.method, request.url, response.status, response.headers, response.body
        )
        with self.lock:
            self.contract_violations.extend(check.violations)
            self.contract_exempted.extend(check.exempted)

    def _violations_dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "violations": [v.to_dict() for v in self.contract_violations],
                "exempted": [v.to_dict() for v in self.contract_exempted],
            }
