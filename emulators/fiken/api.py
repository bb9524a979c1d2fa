"""The ``/api/v2`` routes of the Fiken emulator: companies, contacts, projects, invoices, credit
notes, sales, bank accounts, accounts (the subset the connector uses; docs/reference/fiken.md §3–5).

Conventions kept everywhere: 201 + ``Location`` (full URL) + empty body on create; PUT/PATCH answer
the status the spec documents for that operation (PUT contact 200, PATCH invoice 200, PATCH project
201) with ``Location``; 404 ``{"message"}`` for unknown ids; lists are bare JSON arrays with the
``Fiken-Api-*`` paging headers (``paginate``).

Handlers validate what they rely on themselves too, so with the contract check off bad input still
gets a 4xx; a ``KeyError``/``TypeError``/``ValueError`` escaping a handler is answered 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any

from emulators.common import Request, Response
from emulators.fiken import money
from emulators.fiken.state import BankAccount, Company

if TYPE_CHECKING:
    from emulators.fiken.emulator import FikenEmulator

API_PREFIX = "/api/v2"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
ATTACHMENT_SUFFIXES = (".png", ".jpeg", ".jpg", ".gif", ".pdf")

# Observed Fiken texts (docs/reference/fiken.md §4); kept verbatim so connectors can match on them.
COUNTER_NOT_INITIALISED = (
    "Missing number series for drafts of type: invoice. In order to begin a number series please create "
    "the first draft in Fiken Web instead of via the API."
)
CREDIT_NOTE_COUNTER_NOT_INITIALISED = (  # modelled on Fiken's offer-counter message
    "Credit note counter not initialized for this company, create a credit note in Fiken to set base number "
    "OR use POST /creditNotes/counter to set the base number"
)
NOT_VAT_REGISTERED = (
    "VAT charged when the company is not VAT registered. The only VAT type accepted is OUTSIDE."
)
INCOME_ACCOUNT_REQUIRED = "incomeAccount is required for free-text lines (lines without a productId)"
UNVERIFIED_BANK_ACCOUNT = (
    "The bank account number {number} has not been verified as belonging to this company. "
    "Create one invoice from this bank account in Fiken first"
)

CONTACT_READ_ONLY = frozenset(
    {
        "contactId",
        "createdDate",
        "lastModifiedDate",
        "customerNumber",
        "customerAccountCode",
        "supplierNumber",
        "supplierAccountCode",
        "notes",
        "documents",
    }
)
CONTACT_WRITE_ONLY = frozenset({"phoneNumber", "memberNumber", "memberNumberString", "currency"})
CONTACT_WRITABLE = frozenset(
    {
        "name",
        "email",
        "organizationNumber",
        "customer",
        "supplier",
        "bankAccountNumber",
        "contactPerson",
        "language",
        "inactive",
        "daysUntilInvoicingDueDate",
        "discount",
        "address",
        "groups",
    }
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Ctx:
    """One routed API call: the request, the company it addresses and the path parameters."""

    request: Request
    company: Company
    params: dict[str, str]
    emulator: FikenEmulator
    user: dict[str, str] = field(default_factory=dict)

    @property
    def company_url(self) -> str:
        return f"{self.request.base_url}{API_PREFIX}/companies/{self.company.slug}"

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise ApiError(404, f"No resource found with id {self.params[name]!r}") from None

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            raise ApiError(400, "Request body is required")
        try:
            payload = self.request.json()
        except ValueError:
            raise ApiError(400, "Request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return payload


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Callable[[Ctx], Response]
    multipart: bool = False
    needs_project_module: bool = False
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


# -- shared helpers -----------------------------------------------------------------------------------


def created(location: str) -> Response:
    return Response.empty(201, {"Location": location})


def paginate(request: Request, items: list[Any]) -> Response:
    """0-based paging. The spec: defaults page=0, pageSize=25, and "both query parameters need to be
    set to enable pagination", so one of them alone is ignored and the defaults apply."""
    page, size = 0, DEFAULT_PAGE_SIZE
    raw_page, raw_size = request.query_value("page"), request.query_value("pageSize")
    if raw_page is not None and raw_size is not None:
        try:
            page, size = int(raw_page), int(raw_size)
        except ValueError:
            raise ApiError(400, "page and pageSize must be integers") from None
        if page < 0 or not 1 <= size <= MAX_PAGE_SIZE:
            raise ApiError(400, f"page must be >= 0 and pageSize within 1..{MAX_PAGE_SIZE}")
    total = len(items)
    headers = {
        "Fiken-Api-Page": str(page),
        "Fiken-Api-Page-Size": str(size),
        "Fiken-Api-Page-Count": str(math.ceil(total / size)),
        "Fiken-Api-Result-Count": str(total),
    }
    return Response.json(200, items[page * size : (page + 1) * size], headers)


def bool_query(request: Request, name: str) -> bool | None:
    value = request.query_value(name)
    if value is None or value == "":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError(400, f"{name} must be true or false")


def date_filtered(
    request: Request, items: list[dict[str, Any]], param: str, key: str
) -> list[dict[str, Any]]:
    """Apply ``param``, ``paramLe|Lt|Ge|Gt`` (yyyy-MM-dd) to ``item[key]``."""
    checks = {
        "": lambda a, b: a == b,
        "Le": lambda a, b: a <= b,
        "Lt": lambda a, b: a < b,
        "Ge": lambda a, b: a >= b,
        "Gt": lambda a, b: a > b,
    }
    for suffix, compare in checks.items():
        value = request.query_value(param + suffix)
        if value is None:
            continue
        parse_date(value, param + suffix)
        items = [item for item in items if item.get(key) is not None and compare(item[key], value)]
    return items


def parse_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> date:
    raise ApiError(400, f"{name} must be a date formatted yyyy-MM-dd")


def require(body: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if body.get(name) is None]
    if missing:
        raise ApiError(400, "; ".join(f"'{name}' is required" for name in missing))


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record without the emulator's bookkeeping keys (those start with ``_``)."""
    return {key: value for key, value in record.items() if not key.startswith("_")}


def parse_multipart(request: Request) -> dict[str, dict[str, Any]]:
    """Fields of a multipart/form-data body: ``{name: {"value": bytes, "filename": str|None, "type"}}``."""
    header = f"Content-Type: {request.header('Content-Type')}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + request.body)
    if not message.is_multipart():
        raise ApiError(400, "Malformed multipart body")
    fields: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        fields[str(name)] = {
            "value": part.get_payload(decode=True) or b"",
            "filename": part.get_filename(),
            "type": part.get_content_type(),
        }
    return fields


# -- the API ---------------------------------------------------------------------------------------------


class FikenApi:
    def __init__(self, emulator: FikenEmulator) -> None:
        self.emulator = emulator
        c = "/companies/{slug}"
        self.routes: list[Route] = [
            Route("GET", "/user", self.get_user),
            Route("GET", "/companies", self.list_companies),
            Route("GET", c, self.get_company),
            Route("GET", c + "/accounts", self.list_accounts),
            Route("GET", c + "/accounts/{accountCode}", self.get_account),
            Route("GET", c + "/bankAccounts", self.list_bank_accounts),
            Route("POST", c + "/bankAccounts", self.create_bank_account),
            Route("GET", c + "/bankAccounts/{bankAccountId}", self.get_bank_account),
            Route("GET", c + "/contacts", self.list_contacts),
            Route("POST", c + "/contacts", self.create_contact),
            Route("GET", c + "/contacts/{contactId}", self.get_contact),
            Route("PUT", c + "/contacts/{contactId}", self.replace_contact),
            Route("DELETE", c + "/contacts/{contactId}", self.delete_contact),
            Route("GET", c + "/contacts/{contactId}/contactPerson", self.list_contact_persons),
            Route("GET", c + "/projects", self.list_projects, needs_project_module=True),
            Route("POST", c + "/projects", self.create_project, needs_project_module=True),
            Route("GET", c + "/projects/{projectId}", self.get_project, needs_project_module=True),
            Route("PATCH", c + "/projects/{projectId}", self.update_project, needs_project_module=True),
            Route("DELETE", c + "/projects/{projectId}", self.delete_project, needs_project_module=True),
            Route("GET", c + "/invoices", self.list_invoices),
            Route("POST", c + "/invoices", self.create_invoice),
            Route("GET", c + "/invoices/counter", self.get_invoice_counter),
            Route("POST", c + "/invoices/counter", self.create_invoice_counter),
            Route("GET", c + "/invoices/{invoiceId}", self.get_invoice),
            Route("PATCH", c + "/invoices/{invoiceId}", self.update_invoice),
            Route("GET", c + "/invoices/{invoiceId}/attachments", self.list_invoice_attachments),
            Route(
                "POST", c + "/invoices/{invoiceId}/attachments", self.add_invoice_attachment, multipart=True
            ),
            Route("GET", c + "/creditNotes", self.list_credit_notes),
            Route("POST", c + "/creditNotes/full", self.create_full_credit_note),
            Route("POST", c + "/creditNotes/partial", self.create_partial_credit_note),
            Route("GET", c + "/creditNotes/counter", self.get_credit_note_counter),
            Route("POST", c + "/creditNotes/counter", self.create_credit_note_counter),
            Route("GET", c + "/creditNotes/{creditNoteId}", self.get_credit_note),
            Route("GET", c + "/sales", self.list_sales),
            Route("POST", c + "/sales", self.create_sale),
            Route("GET", c + "/sales/{saleId}", self.get_sale),
            Route("GET", c + "/sales/{saleId}/attachments", self.list_sale_attachments),
            Route("POST", c + "/sales/{saleId}/attachments", self.add_sale_attachment, multipart=True),
        ]

    def match(self, method: str, api_path: str) -> tuple[Route | None, dict[str, str], bool]:
        """The route for ``method`` and path, its parameters, and whether the path exists at all."""
        path_known = False
        # Literal segments first: /invoices/counter must not be taken for /invoices/{invoiceId}.
        for route in sorted(self.routes, key=lambda r: r.template.count("{")):
            found = route.pattern.match(api_path)
            if found:
                path_known = True
                if route.method == method:
                    return route, found.groupdict(), True
        return None, {}, path_known

    @property
    def today(self) -> str:
        return self.emulator.today().isoformat()

    # -- companies, user ---------------------------------------------------------------------------

    def get_user(self, ctx: Ctx) -> Response:
        return Response.json(200, {"name": ctx.user.get("name", ""), "email": ctx.user.get("email", "")})

    def list_companies(self, ctx: Ctx) -> Response:
        raise AssertionError("answered by the emulator: it needs the grant")  # pragma: no cover

    def get_company(self, ctx: Ctx) -> Response:
        return Response.json(200, ctx.company.result())

    # -- accounts ----------------------------------------------------------------------------------------

    def list_accounts(self, ctx: Ctx) -> Response:
        accounts = ctx.company.accounts()
        low, high = ctx.request.query_value("fromAccount"), ctx.request.query_value("toAccount")
        if low:
            accounts = [a for a in accounts if a["code"][:4] >= low[:4]]
        if high:
            accounts = [a for a in accounts if a["code"][:4] <= high[:4]]
        ranges = ctx.request.query_value("range")
        if ranges:
            wanted = []
            for part in ranges.split(","):
                start, _, end = part.strip().partition("-")
                wanted.append((start.strip(), (end or start).strip()))
            accounts = [a for a in accounts if any(s <= a["code"][:4] <= e for s, e in wanted)]
        return paginate(ctx.request, accounts)

    def get_account(self, ctx: Ctx) -> Response:
        code = ctx.params["accountCode"]
        account = next((a for a in ctx.company.accounts() if a["code"] == code), None)
        if account is None:
            raise ApiError(404, f"No account found with code {code}")
        return Response.json(200, account)

    # -- bank accounts ---------------------------------------------------------------------------------

    def list_bank_accounts(self, ctx: Ctx) -> Response:
        accounts = ctx.company.bank_accounts
        inactive = bool_query(ctx.request, "inactive")
        if inactive is not None:
            accounts = [a for a in accounts if a.inactive == inactive]
        return paginate(ctx.request, [a.result() for a in accounts])

    def create_bank_account(self, ctx: Ctx) -> Response:
        body = ctx.body()
        require(body, "name", "bankAccountNumber", "type")
        if body["type"] not in ("normal", "tax_deduction", "foreign", "credit_card"):
            raise ApiError(400, f"Unknown bank account type {body['type']!r}")
        number = str(body["bankAccountNumber"])
        if any(a.bank_account_number == number for a in ctx.company.bank_accounts):
            raise ApiError(400, f"Bank account number {number} already exists")
        account = self.emulator.new_bank_account(
            ctx.company,
            name=str(body["name"]),
            number=number,
            type=body["type"],
            verified=self.emulator.verify_new_bank_accounts,
            inactive=bool(body.get("inactive", False)),
            bic=body.get("bic"),
            iban=body.get("iban"),
            foreign_service=body.get("foreignService"),
        )
        return created(f"{ctx.company_url}/bankAccounts/{account.bank_account_id}")

    def get_bank_account(self, ctx: Ctx) -> Response:
        wanted = ctx.int_param("bankAccountId")
        account = next((a for a in ctx.company.bank_accounts if a.bank_account_id == wanted), None)
        if account is None:
            raise ApiError(404, f"No bank account found with id {wanted}")
        return Response.json(200, account.result())

    # -- contacts ------------------------------------------------------------------------------------

    def contact_out(self, company: Company, contact_id: int) -> dict[str, Any] | None:
        record = company.contacts.get(contact_id)
        return None if record is None else public(record)

    def _contact_from_body(self, ctx: Ctx, body: dict[str, Any], existing: dict[str, Any] | None) -> int:
        """Store ``body`` as the whole contact (PUT semantics: what is not sent is cleared)."""
        require(body, "name")
        if not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 200:
            raise ApiError(400, "name must be a string of 1 to 200 characters")
        company = ctx.company
        contact_id = existing["contactId"] if existing else self.emulator.next_id()
        record: dict[str, Any] = {
            "contactId": contact_id,
            "createdDate": existing["createdDate"] if existing else self.today,
            "lastModifiedDate": self.today,
        }
        for kept in ("customerNumber", "customerAccountCode", "supplierNumber", "supplierAccountCode"):
            if existing and kept in existing:
                record[kept] = existing[kept]
        record["name"] = body["name"]
        for key in (
            "email",
            "organizationNumber",
            "bankAccountNumber",
            "language",
            "daysUntilInvoicingDueDate",
            "discount",
            "address",
        ):
            if body.get(key) is not None:
                record[key] = body[key]
        record["customer"] = bool(body.get("customer", False))
        record["supplier"] = bool(body.get("supplier", False))
        record["inactive"] = bool(body.get("inactive", False))
        if record["customer"] and "customerNumber" not in record:
            record["customerNumber"] = company.next_customer_number
            record["customerAccountCode"] = f"1500:{company.next_customer_number}"
            company.next_customer_number += 1
        if record["supplier"] and "supplierNumber" not in record:
            record["supplierNumber"] = company.next_supplier_number
            record["supplierAccountCode"] = f"2400:{company.next_supplier_number}"
            company.next_supplier_number += 1
        old_ids = {p.get("contactPersonId") for p in (existing or {}).get("contactPerson", [])}
        persons = []
        for person in body.get("contactPerson") or []:
            if not isinstance(person, dict):
                raise ApiError(400, "contactPerson entries must be objects")
            require(person, "name", "email")
            kept_id = person.get("contactPersonId")
            person_id = kept_id if kept_id in old_ids and kept_id is not None else self.emulator.next_id()
            persons.append(
                {"contactPersonId": person_id, **{k: v for k, v in person.items() if k != "contactPersonId"}}
            )
        record["contactPerson"] = persons
        record["groups"] = list(body.get("groups") or [])
        company.contacts[contact_id] = record
        company.contact_hidden[contact_id] = {
            k: body[k] for k in CONTACT_WRITE_ONLY if body.get(k) is not None
        }
        return contact_id

    def list_contacts(self, ctx: Ctx) -> Response:
        company, q = ctx.company, ctx.request
        items = list(company.contacts.values())
        hidden = company.contact_hidden
        for name in ("organizationNumber", "name", "email"):
            value = q.query_value(name)
            if value is not None:
                items = [c for c in items if c.get(name) == value]
        for name in ("customerNumber", "supplierNumber"):
            value = q.query_value(name)
            if value is not None:
                items = [c for c in items if str(c.get(name)) == value]
        for name in ("memberNumberString", "phoneNumber"):
            value = q.query_value(name)
            if value is not None:
                items = [c for c in items if str(hidden.get(c["contactId"], {}).get(name)) == value]
        member_number = q.query_value("memberNumber")
        if member_number is not None:
            items = [
                c for c in items if str(hidden.get(c["contactId"], {}).get("memberNumber")) == member_number
            ]
        for name in ("customer", "supplier", "inactive"):
            flag = bool_query(q, name)
            if flag is not None:
                items = [c for c in items if c.get(name, False) == flag]
        group = q.query_value("group")
        if group is not None:
            items = [c for c in items if group in c.get("groups", [])]
        items = date_filtered(q, items, "createdDate", "createdDate")
        items = date_filtered(q, items, "lastModified", "lastModifiedDate")
        sort = (q.query_value("sortBy") or "createdDate asc").split()
        key = "lastModifiedDate" if sort[0] == "lastModified" else "createdDate"
        items.sort(key=lambda c: (c[key], c["contactId"]), reverse=sort[-1] == "desc")
        return paginate(q, [public(c) for c in items])

    def create_contact(self, ctx: Ctx) -> Response:
        contact_id = self._contact_from_body(ctx, ctx.body(), None)
        return created(f"{ctx.company_url}/contacts/{contact_id}")

    def _contact(self, ctx: Ctx) -> dict[str, Any]:
        contact_id = ctx.int_param("contactId")
        record = ctx.company.contacts.get(contact_id)
        if record is None:
            raise ApiError(404, f"No contact found with id {contact_id}")
        return record

    def get_contact(self, ctx: Ctx) -> Response:
        return Response.json(200, public(self._contact(ctx)))

    def replace_contact(self, ctx: Ctx) -> Response:
        existing = self._contact(ctx)
        contact_id = self._contact_from_body(ctx, ctx.body(), existing)
        return Response.empty(200, {"Location": f"{ctx.company_url}/contacts/{contact_id}"})

    def delete_contact(self, ctx: Ctx) -> Response:
        record = self._contact(ctx)
        contact_id = record["contactId"]
        company = ctx.company
        in_use = (
            any(i["_customerId"] == contact_id for i in company.invoices.values())
            or any(n["_customerId"] == contact_id for n in company.credit_notes.values())
            or any(s.get("_customerId") == contact_id for s in company.sales.values())
        )
        if in_use:
            record["inactive"] = True
            record["lastModifiedDate"] = self.today
            return Response.json(200, public(record))
        del company.contacts[contact_id]
        company.contact_hidden.pop(contact_id, None)
        return Response.empty(204)

    def list_contact_persons(self, ctx: Ctx) -> Response:
        return Response.json(200, list(self._contact(ctx).get("contactPerson", [])))

    # -- projects ------------------------------------------------------------------------------------

    def project_out(self, company: Company, record: dict[str, Any]) -> dict[str, Any]:
        out = public(record)
        contact_id = record.get("_contactId")
        if contact_id is not None and contact_id in company.contacts:
            out["contact"] = public(company.contacts[contact_id])
        return out

    def _check_project_fields(self, ctx: Ctx, body: dict[str, Any], project_id: int | None) -> None:
        for key in ("startDate", "endDate"):
            if body.get(key) is not None:
                parse_date(body[key], key)
        name = body.get("name")
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise ApiError(400, "name must be a non-empty string")
            clash = next(
                (
                    p
                    for p in ctx.company.projects.values()
                    if p["name"] == name and p["projectId"] != project_id
                ),
                None,
            )
            if clash is not None:
                raise ApiError(
                    400, f"A project with the name '{name}' already exists (project number {clash['number']})"
                )
        contact_id = body.get("contactId")
        if contact_id is not None and contact_id not in ctx.company.contacts:
            raise ApiError(400, f"No contact found with id {contact_id}")

    def list_projects(self, ctx: Ctx) -> Response:
        items = list(ctx.company.projects.values())
        completed = bool_query(ctx.request, "completed")
        if completed is not None:
            items = [p for p in items if p["completed"] == completed]
        for name in ("name", "number"):
            value = ctx.request.query_value(name)
            if value is not None:
                items = [p for p in items if p[name] == value]
        return paginate(ctx.request, [self.project_out(ctx.company, p) for p in items])

    def create_project(self, ctx: Ctx) -> Response:
        body = ctx.body()
        require(body, "number", "name", "startDate")
        if not isinstance(body["number"], str) or not body["number"]:
            raise ApiError(400, "number must be a non-empty string")
        if any(p["number"] == body["number"] for p in ctx.company.projects.values()):
            raise ApiError(400, f"A project with the number '{body['number']}' already exists")
        self._check_project_fields(ctx, body, None)
        project_id = self.emulator.next_id()
        record: dict[str, Any] = {
            "projectId": project_id,
            "number": body["number"],
            "name": body["name"],
            "startDate": body["startDate"],
            "completed": bool(body.get("completed", False)),
        }
        for key in ("description", "endDate"):
            if body.get(key) is not None:
                record[key] = body[key]
        record["_contactId"] = body.get("contactId")
        ctx.company.projects[project_id] = record
        return created(f"{ctx.company_url}/projects/{project_id}")

    def _project(self, ctx: Ctx) -> dict[str, Any]:
        project_id = ctx.int_param("projectId")
        record = ctx.company.projects.get(project_id)
        if record is None:
            raise ApiError(404, f"No project found with id {project_id}")
        return record

    def get_project(self, ctx: Ctx) -> Response:
        return Response.json(200, self.project_out(ctx.company, self._project(ctx)))

    def update_project(self, ctx: Ctx) -> Response:
        record = self._project(ctx)
        body = ctx.body()
        if "number" in body or "projectId" in body:
            raise ApiError(400, "The project number cannot be changed")
        self._check_project_fields(ctx, body, record["projectId"])
        for key in ("name", "description", "startDate", "endDate"):
            if key in body:
                if body[key] is None:
                    record.pop(key, None)
                else:
                    record[key] = body[key]
        if "completed" in body:
            record["completed"] = bool(body["completed"])
        if "contactId" in body:
            record["_contactId"] = body["contactId"]
        # The spec documents 201 for this PATCH (not 200); follow it.
        return created(f"{ctx.company_url}/projects/{record['projectId']}")

    def delete_project(self, ctx: Ctx) -> Response:
        record = self._project(ctx)
        del ctx.company.projects[record["projectId"]]
        return Response.empty(204)

    # -- invoice and credit note lines ------------------------------------------------------------

    def compute_lines(
        self,
        company: Company,
        lines: Any,
        issue_date: date,
        currency: str,
        *,
        unit_price_required: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, int]]:
        if not isinstance(lines, list) or not lines:
            raise ApiError(400, "lines must contain at least one line")
        chart = {code for code, _ in company_chart(company)}
        results, net, vat = [], 0, 0
        for index, line in enumerate(lines):
            where = f"lines[{index}]"
            if not isinstance(line, dict):
                raise ApiError(400, f"{where} must be an object")
            require(line, "quantity")
            if line.get("productId") is not None:
                raise ApiError(400, f"{where}: no product found with id {line['productId']}")
            quantity = _decimal(line["quantity"], f"{where}.quantity")
            discount = _decimal(line.get("discount", 0), f"{where}.discount")
            if not 0 <= discount <= 100:
                raise ApiError(400, f"{where}.discount must be between 0 and 100")
            vat_type, rate = self._vat(company, line, issue_date, where)
            account = line.get("incomeAccount")
            if not account:
                raise ApiError(400, INCOME_ACCOUNT_REQUIRED)
            if str(account) not in chart:
                raise ApiError(400, f"{where}: account {account} does not exist")
            if line.get("net") is not None and line.get("vat") is not None and not discount:
                # Explicit amounts (see money.explicit_line_amounts): booked as given when consistent.
                unit_price = (
                    _int(line["unitPrice"], f"{where}.unitPrice")
                    if line.get("unitPrice") is not None
                    else None
                )
                gross = _int(line["gross"], f"{where}.gross") if line.get("gross") is not None else None
                explicit = money.explicit_line_amounts(
                    _int(line["net"], f"{where}.net"), _int(line["vat"], f"{where}.vat"), gross, rate
                )
                if explicit is None:
                    raise ApiError(400, f"{where}: vat does not match vatType {vat_type} for the net amount")
                amounts = explicit
            elif line.get("unitPrice") is not None:
                unit_price = _int(line["unitPrice"], f"{where}.unitPrice")
                amounts = money.line_amounts(unit_price, quantity, discount, rate)
            elif line.get("net") is not None and not unit_price_required:
                # A line given as a net amount: the amount is the line total before discount.
                unit_price = None
                amounts = money.line_amounts(_int(line["net"], f"{where}.net"), Decimal(1), discount, rate)
            else:
                raise ApiError(400, f"{where}: unitPrice is required for free-text lines")
            result: dict[str, Any] = {
                "net": amounts.net,
                "vat": amounts.vat,
                "vatType": vat_type,
                "gross": amounts.gross,
                "netInNok": money.in_nok(amounts.net, currency, issue_date),
                "vatInNok": money.in_nok(amounts.vat, currency, issue_date),
                "grossInNok": money.in_nok(amounts.net, currency, issue_date)
                + money.in_nok(amounts.vat, currency, issue_date),
                "vatInPercent": money.plain_number(rate),
                "quantity": money.plain_number(quantity),
                "incomeAccount": str(account),
            }
            if unit_price is not None:
                result["unitPrice"] = unit_price
            if discount:
                result["discount"] = money.plain_number(discount)
            for key in ("productName", "description", "comment"):
                if line.get(key) is not None:
                    result[key] = line[key]
            results.append(result)
            net += amounts.net
            vat += amounts.vat
        return results, {"net": net, "vat": vat, "gross": net + vat}

    def _vat(
        self, company: Company, line: dict[str, Any], issue_date: date, where: str
    ) -> tuple[str, Decimal]:
        vat_type, percent = line.get("vatType"), line.get("vatInPercent")
        if vat_type is None and percent is None:
            raise ApiError(400, f"{where}: at least vatType or vatInPercent has to be specified")
        if vat_type is not None:
            if vat_type not in money.SALES_VAT_TYPES:
                raise ApiError(400, f"{where}: unknown vatType {vat_type!r}")
            rate = money.vat_rate(vat_type, issue_date)
            if percent is not None and _decimal(percent, f"{where}.vatInPercent") != rate:
                raise ApiError(
                    400,
                    f"{where}: vatInPercent {percent} does not match vatType {vat_type} "
                    f"({money.plain_number(rate)} %) on {issue_date.isoformat()}",
                )
        else:
            wanted = _decimal(percent, f"{where}.vatInPercent")
            vat_type = (
                "NONE"
                if wanted == 0
                else next((t for t in money.VAT_RATES if money.vat_rate(t, issue_date) == wanted), None)
            )
            if vat_type is None:
                raise ApiError(400, f"{where}: no VAT type has {percent} % on {issue_date.isoformat()}")
            rate = wanted
        if not company.vat_registered and vat_type not in money.NOT_VAT_REGISTERED_TYPES:
            raise ApiError(400, NOT_VAT_REGISTERED)
        return vat_type, rate

    def _customer(self, ctx: Ctx, contact_id: Any, field_name: str = "customerId") -> dict[str, Any]:
        record = ctx.company.contacts.get(contact_id) if isinstance(contact_id, int) else None
        if record is None:
            raise ApiError(400, f"No contact found with {field_name} {contact_id}")
        if not record.get("customer"):
            raise ApiError(400, f"Contact {contact_id} is not a customer")
        return record

    def _project_ref(self, ctx: Ctx, project_id: Any) -> dict[str, Any] | None:
        if project_id is None:
            return None
        if not ctx.company.has_project_module:
            raise ApiError(402, "The company does not have the project module (Prosjekt)")
        record = ctx.company.projects.get(project_id)
        if record is None:
            raise ApiError(400, f"No project found with id {project_id}")
        return record

    # -- invoices ------------------------------------------------------------------------------------

    def invoice_out(self, company: Company, record: dict[str, Any]) -> dict[str, Any]:
        out = public(record)
        customer = self.contact_out(company, record["_customerId"])
        if customer is not None:
            out["customer"] = customer
            if "address" in customer:
                out["address"] = customer["address"]
        project = company.projects.get(record.get("_projectId"))  # type: ignore[arg-type]
        if project is not None:
            out["project"] = self.project_out(company, project)
        out["attachments"] = [
            self.attachment_out(a)
            for a in company.attachments
            if a["owner"] == "invoice" and a["ownerId"] == record["invoiceId"]
        ]
        return out

    def list_invoices(self, ctx: Ctx) -> Response:
        q, items = ctx.request, list(ctx.company.invoices.values())
        for param in ("issueDate", "dueDate"):
            items = date_filtered(q, items, param, param)
        items = date_filtered(q, items, "lastModified", "lastModifiedDate")
        customer_id = q.query_value("customerId")
        if customer_id is not None:
            items = [i for i in items if str(i["_customerId"]) == customer_id]
        for name in ("orderReference", "invoiceNumber"):
            value = q.query_value(name)
            if value is not None:
                items = [i for i in items if str(i.get(name)) == value]
        draft_uuid = q.query_value("invoiceDraftUuid")
        if draft_uuid is not None:
            items = [i for i in items if i.get("invoiceDraftUuid") == draft_uuid]
        settled = bool_query(q, "settled")
        if settled is not None:
            items = [i for i in items if i["_settled"] == settled]
        return paginate(q, [self.invoice_out(ctx.company, i) for i in items])

    def create_invoice(self, ctx: Ctx) -> Response:
        company, body = ctx.company, ctx.body()
        require(body, "issueDate", "dueDate", "lines", "bankAccountCode", "cash", "customerId")
        if company.invoice_counter is None:
            raise ApiError(400, COUNTER_NOT_INITIALISED)
        issue_date = parse_date(body["issueDate"], "issueDate")
        parse_date(body["dueDate"], "dueDate")
        customer = self._customer(ctx, body["customerId"])
        bank = company.bank_account_by_code(str(body["bankAccountCode"]))
        if bank is None:
            raise ApiError(400, f"No bank account found with code {body['bankAccountCode']}")
        if not bank.verified:
            raise ApiError(403, UNVERIFIED_BANK_ACCOUNT.format(number=bank.bank_account_number))
        if body["cash"] and not body.get("paymentAccount"):
            raise ApiError(400, "paymentAccount is required for cash invoices")
        if not body["cash"] and body.get("paymentAccount"):
            raise ApiError(400, "paymentAccount is only allowed for cash invoices")
        person_id = body.get("contactPersonId")
        if person_id is not None and person_id not in {
            p["contactPersonId"] for p in customer["contactPerson"]
        }:
            raise ApiError(
                400, f"Contact person {person_id} does not belong to customer {customer['contactId']}"
            )
        project = self._project_ref(ctx, body.get("projectId"))
        currency = body.get("currency") or "NOK"
        lines, totals = self.compute_lines(company, body["lines"], issue_date, currency)
        rounding = money.rounding_difference(totals["gross"], body.get("roundingType"), currency)
        totals["net"] += rounding
        totals["gross"] += rounding
        invoice_id = self.emulator.next_id()
        company.invoice_counter += 1
        number = company.invoice_counter
        uuid = str(body.get("uuid") or self.emulator.new_uuid())
        record: dict[str, Any] = {
            "invoiceId": invoice_id,
            "createdDate": self.today,
            "lastModifiedDate": self.today,
            "invoiceNumber": number,
            "issueDate": body["issueDate"],
            "dueDate": body["dueDate"],
            **totals,
            **_in_nok(lines, totals, currency),
            "cash": bool(body["cash"]),
            "lines": lines,
            "currency": currency,
            "bankAccountNumber": bank.bank_account_number,
            "sentManually": False,
            "invoicePdf": self.emulator.file_attachment(f"faktura-{number}.pdf", "invoice", str(number)),
            "associatedCreditNotes": [],
            "_customerId": customer["contactId"],
            "_projectId": project["projectId"] if project else None,
            "_uuid": uuid,
            "_settled": bool(body["cash"]),
            "_credited": 0,
        }
        for key in ("invoiceText", "yourReference", "ourReference", "orderReference"):
            if body.get(key) is not None:
                record[key] = body[key]
        if self.emulator.direct_invoice_uuid_filterable:
            record["invoiceDraftUuid"] = uuid
        company.invoices[invoice_id] = record
        return created(f"{ctx.company_url}/invoices/{invoice_id}")

    def _invoice(self, ctx: Ctx) -> dict[str, Any]:
        invoice_id = ctx.int_param("invoiceId")
        record = ctx.company.invoices.get(invoice_id)
        if record is None:
            raise ApiError(404, f"No invoice found with id {invoice_id}")
        return record

    def get_invoice(self, ctx: Ctx) -> Response:
        return Response.json(200, self.invoice_out(ctx.company, self._invoice(ctx)))

    def update_invoice(self, ctx: Ctx) -> Response:
        record, body = self._invoice(ctx), ctx.body()
        other = sorted(set(body) - {"newDueDate", "sentManually"})
        if other:
            raise ApiError(
                400,
                f"Invoices cannot be changed ({', '.join(other)}); only newDueDate and "
                "sentManually can be updated. Correct an invoice with a credit note.",
            )
        if body.get("newDueDate") is not None:
            parse_date(body["newDueDate"], "newDueDate")
            record.setdefault("originalDueDate", record["dueDate"])
            record["dueDate"] = body["newDueDate"]
        if body.get("sentManually") is not None:
            record["sentManually"] = bool(body["sentManually"])
        record["lastModifiedDate"] = self.today
        return Response.empty(200, {"Location": f"{ctx.company_url}/invoices/{record['invoiceId']}"})

    def get_invoice_counter(self, ctx: Ctx) -> Response:
        if ctx.company.invoice_counter is None:
            raise ApiError(409, "Invoice counter not initialized for this company")
        return Response.json(200, {"value": ctx.company.invoice_counter})

    def create_invoice_counter(self, ctx: Ctx) -> Response:
        value = self._counter_value(ctx)
        if ctx.company.invoice_counter is not None:
            raise ApiError(409, "Invoice counter already initialized for this company")
        ctx.company.invoice_counter = value
        return created(f"{ctx.company_url}/invoices/counter")

    def _counter_value(self, ctx: Ctx) -> int:
        body = ctx.body() if ctx.request.body.strip() else {}
        value = body.get("value", 10000)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ApiError(400, "value must be a non-negative integer")
        return value

    # -- attachments ---------------------------------------------------------------------------------

    def attachment_out(self, attachment: dict[str, Any]) -> dict[str, Any]:
        out = self.emulator.file_attachment(
            attachment["filename"], "unspecified", attachment["filename"], file_id=attachment["attachmentId"]
        )
        if attachment.get("comment"):
            out["comment"] = attachment["comment"]
        return out

    def _store_attachment(self, ctx: Ctx, owner: str, owner_id: int, **flags: bool) -> str:
        fields = parse_multipart(ctx.request)
        filename = (fields.get("filename", {}).get("value") or b"").decode("utf-8", "replace").strip()
        if not filename:
            raise ApiError(400, "filename is required")
        if not filename.lower().endswith(ATTACHMENT_SUFFIXES):
            raise ApiError(400, "The filename must end with either .png, .jpeg, .jpg, .gif or .pdf")
        file = fields.get("file")
        if file is None or not file["value"]:
            raise ApiError(400, "file is required")
        attachment_id = self.emulator.new_uuid()
        comment = fields.get("comment", {}).get("value")
        ctx.company.attachments.append(
            {
                "attachmentId": attachment_id,
                "owner": owner,
                "ownerId": owner_id,
                "filename": filename,
                "contentType": file["type"],
                "size": len(file["value"]),
                "content": file["value"],
                "comment": comment.decode("utf-8", "replace") if comment else None,
                **flags,
            }
        )
        return attachment_id

    def list_invoice_attachments(self, ctx: Ctx) -> Response:
        invoice = self._invoice(ctx)
        return Response.json(
            200,
            [
                self.attachment_out(a)
                for a in ctx.company.attachments
                if a["owner"] == "invoice" and a["ownerId"] == invoice["invoiceId"]
            ],
        )

    def add_invoice_attachment(self, ctx: Ctx) -> Response:
        invoice = self._invoice(ctx)
        attachment_id = self._store_attachment(ctx, "invoice", invoice["invoiceId"])
        return created(f"{ctx.company_url}/invoices/{invoice['invoiceId']}/attachments/{attachment_id}")

    # -- credit notes ----------------------------------------------------------------------------------

    def credit_note_out(self, company: Company, record: dict[str, Any]) -> dict[str, Any]:
        out = public(record)
        customer = self.contact_out(company, record["_customerId"])
        if customer is not None:
            out["customer"] = customer
            if "address" in customer:
                out["address"] = customer["address"]
        project = company.projects.get(record.get("_projectId"))  # type: ignore[arg-type]
        if project is not None:
            out["project"] = self.project_out(company, project)
        return out

    def _new_credit_note(
        self,
        ctx: Ctx,
        body: dict[str, Any],
        lines: list[dict[str, Any]],
        totals: dict[str, int],
        customer_id: int,
        invoice: dict[str, Any] | None,
        project_id: int | None,
        currency: str,
    ) -> Response:
        company = ctx.company
        if company.credit_note_counter is None:
            raise ApiError(400, CREDIT_NOTE_COUNTER_NOT_INITIALISED)
        company.credit_note_counter += 1
        note_id = self.emulator.next_id()
        record: dict[str, Any] = {
            "creditNoteId": note_id,
            "creditNoteNumber": company.credit_note_counter,
            **totals,
            **_in_nok(lines, totals, currency),
            "lines": lines,
            "currency": currency,
            "issueDate": body["issueDate"],
            "lastModifiedDate": self.today,
            "settled": False,
            "creditNotePdf": self.emulator.file_attachment(
                f"kreditnota-{company.credit_note_counter}.pdf", "invoice", str(company.credit_note_counter)
            ),
            "_customerId": customer_id,
            "_projectId": project_id,
        }
        for key in ("creditNoteText", "yourReference", "ourReference", "orderReference"):
            if body.get(key) is not None:
                record[key] = body[key]
        if invoice is not None:
            record["associatedInvoiceId"] = invoice["invoiceId"]
            invoice["associatedCreditNotes"].append(note_id)
            invoice["_credited"] += totals["gross"]
            invoice["lastModifiedDate"] = self.today
        company.credit_notes[note_id] = record
        return created(f"{ctx.company_url}/creditNotes/{note_id}")

    def _invoice_by_body(self, ctx: Ctx, invoice_id: Any) -> dict[str, Any]:
        record = ctx.company.invoices.get(invoice_id) if isinstance(invoice_id, int) else None
        if record is None:
            raise ApiError(400, f"No invoice found with id {invoice_id}")
        return record

    def create_full_credit_note(self, ctx: Ctx) -> Response:
        body = ctx.body()
        require(body, "issueDate", "invoiceId")
        parse_date(body["issueDate"], "issueDate")
        invoice = self._invoice_by_body(ctx, body["invoiceId"])
        if invoice["_credited"] >= invoice["gross"]:
            raise ApiError(400, f"Invoice {invoice['invoiceNumber']} is already fully credited")
        if invoice["_credited"]:
            raise ApiError(
                400,
                f"Invoice {invoice['invoiceNumber']} is partly credited; credit the remaining "
                f"{invoice['gross'] - invoice['_credited']} øre with a partial credit note",
            )
        totals = {"net": invoice["net"], "vat": invoice["vat"], "gross": invoice["gross"]}
        return self._new_credit_note(
            ctx,
            body,
            [dict(line) for line in invoice["lines"]],
            totals,
            invoice["_customerId"],
            invoice,
            invoice["_projectId"],
            invoice["currency"],
        )

    def create_partial_credit_note(self, ctx: Ctx) -> Response:
        body = ctx.body()
        require(body, "issueDate", "lines")
        issue_date = parse_date(body["issueDate"], "issueDate")
        invoice = self._invoice_by_body(ctx, body["invoiceId"]) if body.get("invoiceId") is not None else None
        if invoice is not None:
            customer_id = invoice["_customerId"]
        elif body.get("contactId") is not None:
            customer_id = self._customer(ctx, body["contactId"], "contactId")["contactId"]
        else:
            raise ApiError(400, "Either invoiceId or contactId is required")
        currency = body.get("currency") or (invoice["currency"] if invoice else "NOK")
        lines, totals = self.compute_lines(
            ctx.company, body["lines"], issue_date, currency, unit_price_required=True
        )
        rounding = money.rounding_difference(totals["gross"], body.get("roundingType"), currency)
        totals["net"] += rounding
        totals["gross"] += rounding
        if invoice is not None and invoice["_credited"] + totals["gross"] > invoice["gross"]:
            raise ApiError(
                400,
                f"The credit note ({totals['gross']} øre) exceeds what is left to credit on "
                f"invoice {invoice['invoiceNumber']} ({invoice['gross'] - invoice['_credited']} øre)",
            )
        project = self._project_ref(ctx, body.get("project"))
        project_id = project["projectId"] if project else (invoice["_projectId"] if invoice else None)
        return self._new_credit_note(ctx, body, lines, totals, customer_id, invoice, project_id, currency)

    def list_credit_notes(self, ctx: Ctx) -> Response:
        q, items = ctx.request, list(ctx.company.credit_notes.values())
        items = date_filtered(q, items, "issueDate", "issueDate")
        items = date_filtered(q, items, "lastModified", "lastModifiedDate")
        customer_id = q.query_value("customerId")
        if customer_id is not None:
            items = [n for n in items if str(n["_customerId"]) == customer_id]
        settled = bool_query(q, "settled")
        if settled is not None:
            items = [n for n in items if n["settled"] == settled]
        if q.query_value("creditNoteDraftUuid") is not None:
            items = []  # notes made from invoices have no draft (spec), and drafts are not emulated
        return paginate(q, [self.credit_note_out(ctx.company, n) for n in items])

    def get_credit_note(self, ctx: Ctx) -> Response:
        note_id = ctx.int_param("creditNoteId")
        record = ctx.company.credit_notes.get(note_id)
        if record is None:
            raise ApiError(404, f"No credit note found with id {note_id}")
        return Response.json(200, self.credit_note_out(ctx.company, record))

    def get_credit_note_counter(self, ctx: Ctx) -> Response:
        if ctx.company.credit_note_counter is None:
            raise ApiError(409, "Credit note counter not initialized for this company")
        return Response.json(200, {"value": ctx.company.credit_note_counter})

    def create_credit_note_counter(self, ctx: Ctx) -> Response:
        value = self._counter_value(ctx)
        if ctx.company.credit_note_counter is not None:
            raise ApiError(409, "Credit note counter already initialized for this company")
        ctx.company.credit_note_counter = value
        return created(f"{ctx.company_url}/creditNotes/counter")

    # -- sales ---------------------------------------------------------------------------------------

    def sale_out(self, company: Company, record: dict[str, Any]) -> dict[str, Any]:
        out = public(record)
        customer = self.contact_out(company, record.get("_customerId"))  # type: ignore[arg-type]
        if customer is not None:
            out["customer"] = customer
        project = company.projects.get(record.get("_projectId"))  # type: ignore[arg-type]
        if project is not None:
            out["project"] = self.project_out(company, project)
        out["saleAttachments"] = [
            self.attachment_out(a)
            for a in company.attachments
            if a["owner"] == "sale" and a["ownerId"] == record["saleId"]
        ]
        return out

    def create_sale(self, ctx: Ctx) -> Response:
        company, body = ctx.company, ctx.body()
        require(body, "date", "kind", "lines", "currency")
        sale_date = parse_date(body["date"], "date")
        kind = body["kind"]
        if kind not in ("cash_sale", "invoice", "external_invoice"):
            raise ApiError(400, f"Unknown kind {kind!r}")
        customer_id = None
        if body.get("customerId") is not None:
            customer_id = self._customer(ctx, body["customerId"])["contactId"]
        elif kind != "cash_sale":
            raise ApiError(400, f"customerId is required for sales of kind {kind}")
        if kind == "cash_sale" and not body.get("paymentAccount"):
            raise ApiError(400, "paymentAccount is required for cash sales")
        lines = body["lines"]
        if not isinstance(lines, list) or not lines:
            raise ApiError(400, "lines must contain at least one line")
        chart = {code for code, _ in company_chart(company)}
        stored_lines, net, vat = [], 0, 0
        for index, line in enumerate(lines):
            where = f"lines[{index}]"
            if not isinstance(line, dict):
                raise ApiError(400, f"{where} must be an object")
            require(line, "description", "vatType")
            vat_type = line["vatType"]
            if vat_type not in money.SALES_VAT_TYPES:
                raise ApiError(400, f"{where}: unknown vatType {vat_type!r}")
            if not company.vat_registered and vat_type not in money.NOT_VAT_REGISTERED_TYPES:
                raise ApiError(400, NOT_VAT_REGISTERED)
            price = line.get("netPrice", line.get("netPriceInCurrency"))
            if price is None:
                raise ApiError(400, f"{where}: either netPrice or netPriceInCurrency must be provided")
            line_net = _int(price, f"{where}.netPrice")
            line_vat = (
                _int(line["vat"], f"{where}.vat")
                if line.get("vat") is not None
                else money.round_half_up(Decimal(line_net) * money.vat_rate(vat_type, sale_date) / 100)
            )
            if line.get("account") is not None and str(line["account"]) not in chart:
                raise ApiError(400, f"{where}: account {line['account']} does not exist")
            stored = {k: v for k, v in line.items() if k != "projectId"}  # projectId: purchases only
            stored.update({"netPrice": line_net, "vat": line_vat})
            stored_lines.append(stored)
            net += line_net
            vat += line_vat
        project = self._project_ref(ctx, body.get("projectId"))
        total_paid = body.get("totalPaid", net + vat if kind == "cash_sale" else 0)
        sale_id = self.emulator.next_id()
        record: dict[str, Any] = {
            "saleId": sale_id,
            "lastModifiedDate": self.today,
            "transactionId": self.emulator.next_id(),
            "date": body["date"],
            "kind": kind,
            "netAmount": net,
            "vatAmount": vat,
            "settled": kind == "cash_sale",
            "writeOff": False,
            "totalPaid": total_paid,
            "outstandingBalance": net + vat - total_paid,
            "lines": stored_lines,
            "currency": body["currency"],
            "salePayments": [],
            "deleted": False,
            "_customerId": customer_id,
            "_projectId": project["projectId"] if project else None,
        }
        for key in ("saleNumber", "dueDate", "kid"):
            if body.get(key) is not None:
                record[key] = body[key]
        company.sales[sale_id] = record
        return created(f"{ctx.company_url}/sales/{sale_id}")

    def list_sales(self, ctx: Ctx) -> Response:
        q, items = ctx.request, list(ctx.company.sales.values())
        items = date_filtered(q, items, "date", "date")
        items = date_filtered(q, items, "lastModified", "lastModifiedDate")
        sale_number = q.query_value("saleNumber")
        if sale_number is not None:
            items = [s for s in items if s.get("saleNumber") == sale_number]
        contact_id = q.query_value("contactId")
        if contact_id is not None:
            items = [s for s in items if str(s.get("_customerId")) == contact_id]
        settled = bool_query(q, "settled")
        if settled is not None:
            items = [s for s in items if s["settled"] == settled]
        return paginate(q, [self.sale_out(ctx.company, s) for s in items])

    def _sale(self, ctx: Ctx) -> dict[str, Any]:
        sale_id = ctx.int_param("saleId")
        record = ctx.company.sales.get(sale_id)
        if record is None:
            raise ApiError(404, f"No sale found with id {sale_id}")
        return record

    def get_sale(self, ctx: Ctx) -> Response:
        return Response.json(200, self.sale_out(ctx.company, self._sale(ctx)))

    def list_sale_attachments(self, ctx: Ctx) -> Response:
        sale = self._sale(ctx)
        return Response.json(
            200,
            [
                self.attachment_out(a)
                for a in ctx.company.attachments
                if a["owner"] == "sale" and a["ownerId"] == sale["saleId"]
            ],
        )

    def add_sale_attachment(self, ctx: Ctx) -> Response:
        sale = self._sale(ctx)
        to_sale = bool_query(ctx.request, "attachToSale") or False
        to_payment = bool_query(ctx.request, "attachToPayment") or False
        if not (to_sale or to_payment):
            raise ApiError(400, "At least one of attachToPayment and attachToSale must be true")
        attachment_id = self._store_attachment(
            ctx, "sale", sale["saleId"], attachToSale=to_sale, attachToPayment=to_payment
        )
        return created(f"{ctx.company_url}/sales/{sale['saleId']}/attachments/{attachment_id}")


def company_chart(company: Company) -> list[tuple[str, str]]:
    return [(a["code"], a["name"]) for a in company.accounts()]


def _decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(400, f"{name} must be a number")
    try:
        result = money.number(value)
    except InvalidOperation:
        raise ApiError(400, f"{name} must be a number") from None
    if not result.is_finite():
        raise ApiError(400, f"{name} must be a number")
    return result


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer amount in øre")
    return value


__all__ = ["API_PREFIX", "ApiError", "BankAccount", "Ctx", "FikenApi", "Route", "paginate"]


def _in_nok(lines: list[dict[str, Any]], totals: dict[str, int], currency: str) -> dict[str, int]:
    """A document's NOK amounts: its own in NOK (with any rounding line), else the sum of its lines'
    (each converted at Fiken's rate)."""
    if currency.upper() == "NOK":
        return {"netInNok": totals["net"], "vatInNok": totals["vat"], "grossInNok": totals["gross"]}
    net = sum(line.get("netInNok", 0) for line in lines)
    vat = sum(line.get("vatInNok", 0) for line in lines)
    return {"netInNok": net, "vatInNok": vat, "grossInNok": net + vat}
