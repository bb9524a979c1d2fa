"""Moment's JSON, as pydantic models: **every Moment field name lives in this module**.

Moment's swagger is not public (see the reference notes, moment.md §2.5), so apart from the few
names observed in the wild (``id``, ``customerNumber``, ``projectNumber``, ``invoiceNumber``,
``projectState``, ``lastModifiedDate``, the page object, ``financialAccount`` fields) every alias
below is a **guess marked ``GUESS``**: correct it here, once, after reading the live swagger.
The emulator (``emulators.moment``) and the webhook driver serialise these same models, so they
follow any correction automatically.

Conventions:
- Models accept unknown fields (kept in ``model_extra``: handy when comparing with live data) and
  both the Moment alias and the Python name (``populate_by_name``). Numbers arriving where a
  string is expected (``customerNumber: 10001``) are turned into strings.
- Amounts are ``Decimal`` in the invoice's currency; never floats. The client parses JSON with
  ``parse_float=Decimal``. ``*_ore`` properties give integer minor units (øre for NOK) computed as
  ``(amount * 100)`` rounded ``ROUND_HALF_UP`` — half away from zero, so a credit note's
  ``-0.005`` becomes ``-1`` øre, mirroring the invoice it credits.
- Enum-like strings (states, export status, product type) are kept as sent; helper properties
  compare them loosely (case, spaces, ``_`` and ``-`` ignored) because their spelling is a guess.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

ORE_PER_UNIT = Decimal(100)


def to_ore(amount: Decimal) -> int:
    """A currency amount as integer minor units, rounded half away from zero."""
    return int((amount * ORE_PER_UNIT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _loose(value: str | None) -> str:
    """``"To transfer"``, ``"TO_TRANSFER"`` and ``"toTransfer"`` compare equal."""
    return re.sub(r"[^a-z0-9]", "", (value or "").lower())


class MomentModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True, frozen=True)


def _nest_flat_ref(data: Any, key: str, flat: dict[str, str], required: str = "id") -> Any:
    """Moment's includes flatten inner objects (``customer.name`` arrives as ``customerName``).

    When the nested object is absent but its flat fields are present, rebuild the nested form so
    one model covers both shapes. ``flat`` maps flat alias -> nested alias; nothing is rebuilt
    unless the nested ``required`` field is among them.
    """
    if not isinstance(data, dict) or data.get(key) is not None:
        return data
    nested = {inner: data[outer] for outer, inner in flat.items() if data.get(outer) is not None}
    if required not in nested:
        return data
    return {**data, key: nested}


# --- references to other records ---------------------------------------------------------------


class CustomerRef(MomentModel):
    id: int
    customer_number: str | None = Field(default=None, alias="customerNumber")
    name: str | None = Field(default=None, alias="name")


class ProjectRef(MomentModel):
    id: int
    project_number: str | None = Field(default=None, alias="projectNumber")
    name: str | None = Field(default=None, alias="name")


class InvoiceRef(MomentModel):
    id: int
    invoice_number: int | None = Field(default=None, alias="invoiceNumber")


class FinancialAccountRef(MomentModel):
    """The sales account of an invoice line; names as seen on Moment's ``financialAccounts``."""

    id: int | None = None
    account_number: str = Field(alias="accountNumber")
    # The SAF-T standard VAT code set on the account in Moment (Setup / Accounting / Bookkeeping
    # accounts); may be missing (e.g. 7740 Øreavrunding needs none). [INF: externalTaxCode]
    external_tax_code: str | None = Field(default=None, alias="externalTaxCode")
    name: str | None = Field(default=None, alias="name")
    current_vat_percentage: Decimal | None = Field(default=None, alias="currentVatPercentage")


_CUSTOMER_FLAT = {"customerId": "id", "customerNumber": "customerNumber", "customerName": "name"}
_PROJECT_FLAT = {"projectId": "id", "projectNumber": "projectNumber", "projectName": "name"}
_ACCOUNT_FLAT = {
    "financialAccountId": "id",
    "accountNumber": "accountNumber",
    "externalTaxCode": "externalTaxCode",
}


# --- customers ---------------------------------------------------------------------------------


class CustomerState(StrEnum):
    """Assumed values of ``customerState`` (GUESS; PowerOffice page lists "active, potential, inactive")."""

    ACTIVE = "active"
    POTENTIAL = "potential"
    INACTIVE = "inactive"


class Customer(MomentModel):
    id: int
    customer_number: str | None = Field(default=None, alias="customerNumber")
    name: str = Field(alias="name")
    organization_number: str | None = Field(default=None, alias="organizationNumber")  # GUESS
    email: str | None = Field(default=None, alias="email")  # GUESS
    invoice_email: str | None = Field(default=None, alias="invoiceEmail")  # GUESS
    phone: str | None = Field(default=None, alias="phone")  # GUESS
    fax: str | None = Field(default=None, alias="fax")  # GUESS
    website: str | None = Field(default=None, alias="website")  # GUESS
    street: str | None = Field(default=None, alias="address")  # GUESS
    street2: str | None = Field(default=None, alias="address2")  # GUESS
    post_code: str | None = Field(default=None, alias="postalCode")  # GUESS
    city: str | None = Field(default=None, alias="city")  # GUESS
    country_code: str | None = Field(default=None, alias="countryCode")  # GUESS (ISO 3166-1 alpha-2)
    currency_code: str | None = Field(default=None, alias="currencyCode")  # GUESS
    language: str | None = Field(default=None, alias="language")  # GUESS
    customer_state: str | None = Field(default=None, alias="customerState")  # GUESS
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")

    @property
    def active(self) -> bool:
        """False only when Moment says inactive (a missing state counts as active)."""
        return _loose(self.customer_state) != CustomerState.INACTIVE.value

    @property
    def address_lines(self) -> list[str]:
        return [line for line in (self.street, self.street2) if line]


# --- projects ----------------------------------------------------------------------------------


class ProjectState(StrEnum):
    """Assumed values of ``projectState``: only ``inProgress`` was observed; the rest is a GUESS."""

    POTENTIAL = "potential"
    NOT_STARTED = "notStarted"
    IN_PROGRESS = "inProgress"
    ON_HOLD = "onHold"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


# States meaning "work is over" (targets such as Fiken then mark the project completed).
_FINISHED_PROJECT_STATES = frozenset({"completed", "closed", "finished", "done", "cancelled", "canceled"})


class Project(MomentModel):
    id: int
    project_number: str | None = Field(default=None, alias="projectNumber")
    name: str = Field(alias="name")
    customer: CustomerRef | None = Field(default=None, alias="customer")  # GUESS (nested like webhooks)
    start_date: date | None = Field(default=None, alias="startDate")  # GUESS
    end_date: date | None = Field(default=None, alias="endDate")  # GUESS
    project_state: str | None = Field(default=None, alias="projectState")
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_customer(cls, data: Any) -> Any:
        return _nest_flat_ref(data, "customer", _CUSTOMER_FLAT)

    @property
    def completed(self) -> bool:
        return _loose(self.project_state) in _FINISHED_PROJECT_STATES


# --- invoices ----------------------------------------------------------------------------------


class ExportStatus(StrEnum):
    """Moment's per-invoice accounting export status (UI: "To transfer", "Has been transferred",
    "Do not transfer to accounting"). Field name and values are a GUESS; compared loosely."""

    TO_TRANSFER = "toTransfer"
    TRANSFERRED = "transferred"
    DO_NOT_TRANSFER = "doNotTransfer"


_DO_NOT_TRANSFER = frozenset({"donottransfer", "donottransfertoaccounting", "nottransfer", "none"})
_TRANSFERRED = frozenset({"transferred", "hasbeentransferred"})


class InvoiceState(StrEnum):
    """Assumed values of ``invoiceState`` (GUESS). Anything but ``draft`` counts as finalized."""

    DRAFT = "draft"
    FINALIZED = "finalized"
    SENT = "sent"
    PAID = "paid"
    CREDITED = "credited"


class ProductType(StrEnum):
    """What an invoice line bills; Moment maps each to a sales account (GUESS spelling)."""

    HOURS = "hours"
    EXPENSES = "expenses"
    PRODUCTS = "products"


_PRODUCT_TYPES = {
    "hours": ProductType.HOURS,
    "hour": ProductType.HOURS,
    "timerecords": ProductType.HOURS,
    "expenses": ProductType.EXPENSES,
    "expense": ProductType.EXPENSES,
    "products": ProductType.PRODUCTS,
    "product": ProductType.PRODUCTS,
}


class InvoiceLine(MomentModel):
    id: int | None = None
    description: str | None = Field(default=None, alias="description")  # GUESS
    financial_account: FinancialAccountRef | None = Field(default=None, alias="financialAccount")  # GUESS
    quantity: Decimal = Field(default=Decimal(1), alias="quantity")  # GUESS; decimal (7.5 hours)
    unit_price: Decimal = Field(alias="unitPrice")  # GUESS; excl. VAT, before discount
    discount_percent: Decimal = Field(default=Decimal(0), alias="discountPercentage")  # GUESS; 0..100
    amount_excl_vat: Decimal = Field(alias="amountExcludingVat")  # GUESS; after discount
    vat_amount: Decimal = Field(default=Decimal(0), alias="vatAmount")  # GUESS
    vat_percent: Decimal | None = Field(default=None, alias="vatPercentage")  # GUESS
    product_type: str | None = Field(default=None, alias="productType")  # GUESS

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_account(cls, data: Any) -> Any:
        return _nest_flat_ref(data, "financialAccount", _ACCOUNT_FLAT, required="accountNumber")

    @property
    def account_number(self) -> str | None:
        return self.financial_account.account_number if self.financial_account else None

    @property
    def vat_code(self) -> str | None:
        """SAF-T VAT code of the line's sales account (``None`` when the account has none)."""
        code = self.financial_account.external_tax_code if self.financial_account else None
        return (code or "").strip() or None

    @property
    def product_kind(self) -> ProductType | None:
        return _PRODUCT_TYPES.get(_loose(self.product_type))

    @property
    def unit_price_ore(self) -> int:
        return to_ore(self.unit_price)

    @property
    def amount_excl_vat_ore(self) -> int:
        return to_ore(self.amount_excl_vat)

    @property
    def vat_amount_ore(self) -> int:
        return to_ore(self.vat_amount)

    @property
    def amount_incl_vat_ore(self) -> int:
        return self.amount_excl_vat_ore + self.vat_amount_ore


class Invoice(MomentModel):
    """A Moment invoice or credit note (credit notes are invoices with negative lines)."""

    id: int
    invoice_number: int | None = Field(default=None, alias="invoiceNumber")  # None while a draft
    description: str | None = Field(default=None, alias="description")  # GUESS
    customer: CustomerRef = Field(alias="customer")  # GUESS (nested like the webhook)
    project: ProjectRef | None = Field(default=None, alias="project")  # GUESS (nested like the webhook)
    invoice_date: date | None = Field(default=None, alias="invoiceDate")  # GUESS
    due_date: date | None = Field(default=None, alias="dueDate")  # GUESS
    payment_id: str | None = Field(default=None, alias="paymentId")  # GUESS; KID, absent when OCR is off
    your_reference: str | None = Field(default=None, alias="yourReference")  # GUESS
    their_reference: str | None = Field(default=None, alias="theirReference")  # GUESS
    our_reference: str | None = Field(default=None, alias="ourReference")  # GUESS
    currency_code: str = Field(default="NOK", alias="currencyCode")  # GUESS
    currency_rate: Decimal = Field(default=Decimal(1), alias="currencyRate")  # GUESS; NOK per unit
    total_incl_vat: Decimal | None = Field(default=None, alias="totalAmountIncludingVat")  # GUESS
    total_excl_vat: Decimal | None = Field(default=None, alias="totalAmountExcludingVat")  # GUESS
    total_vat: Decimal | None = Field(default=None, alias="totalVatAmount")  # GUESS
    credit_note: bool = Field(default=False, alias="creditNote")  # GUESS
    credited_invoice: InvoiceRef | None = Field(default=None, alias="creditedInvoice")  # GUESS
    export_status: str | None = Field(default=None, alias="exportStatus")  # GUESS
    invoice_state: str | None = Field(default=None, alias="invoiceState")  # GUESS
    # Only returned when the GET asks for the lines part (client.INVOICE_INCLUDE).
    lines: list[InvoiceLine] = Field(default_factory=list, alias="invoiceLines")  # GUESS
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_refs(cls, data: Any) -> Any:
        return _nest_flat_ref(_nest_flat_ref(data, "customer", _CUSTOMER_FLAT), "project", _PROJECT_FLAT)

    # -- state ----------------------------------------------------------------------------------

    @property
    def finalized(self) -> bool:
        """Finalized = has an invoice number and is not a draft (Moment numbers invoices on finalizing)."""
        return self.invoice_number is not None and _loose(self.invoice_state) != InvoiceState.DRAFT.value

    @property
    def export_status_kind(self) -> ExportStatus | None:
        status = _loose(self.export_status)
        if not status:
            return None
        if status in _DO_NOT_TRANSFER:
            return ExportStatus.DO_NOT_TRANSFER
        if status in _TRANSFERRED:
            return ExportStatus.TRANSFERRED
        return ExportStatus.TO_TRANSFER

    @property
    def not_transferable_reason(self) -> str | None:
        """Why this invoice must not go to accounting now, or ``None`` when it may."""
        if not self.finalized:
            return "invoice is a draft in Moment (not finalized)"
        if self.export_status_kind is ExportStatus.DO_NOT_TRANSFER:
            return "export status in Moment is 'Do not transfer to accounting'"
        if self.invoice_date is None:
            return "invoice has no invoice date in Moment"
        return None

    @property
    def transferable(self) -> bool:
        # "Has been transferred" still counts: our own sync state decides what is already booked.
        return self.not_transferable_reason is None

    @property
    def is_credit_note(self) -> bool:
        return self.credit_note or self.credited_invoice is not None

    @property
    def credited_invoice_id(self) -> int | None:
        return self.credited_invoice.id if self.credited_invoice else None

    @property
    def credited_invoice_number(self) -> int | None:
        return self.credited_invoice.invoice_number if self.credited_invoice else None

    @property
    def payment_id_or_invoice_number(self) -> str | None:
        """The KID, else the invoice number (what SpareBank 1 Regnskap's voucher number is built from)."""
        if self.payment_id:
            return self.payment_id
        return str(self.invoice_number) if self.invoice_number is not None else None

    # -- money (øre, see the module docstring) ---------------------------------------------------

    @property
    def lines_excl_vat_ore(self) -> int:
        return sum(line.amount_excl_vat_ore for line in self.lines)

    @property
    def lines_vat_ore(self) -> int:
        return sum(line.vat_amount_ore for line in self.lines)

    @property
    def total_excl_vat_ore(self) -> int:
        """Moment's stated total; the sum of the lines when Moment sent none."""
        return to_ore(self.total_excl_vat) if self.total_excl_vat is not None else self.lines_excl_vat_ore

    @property
    def total_vat_ore(self) -> int:
        return to_ore(self.total_vat) if self.total_vat is not None else self.lines_vat_ore

    @property
    def total_incl_vat_ore(self) -> int:
        if self.total_incl_vat is not None:
            return to_ore(self.total_incl_vat)
        return self.lines_excl_vat_ore + self.lines_vat_ore


# --- lists -------------------------------------------------------------------------------------

RecordT = TypeVar("RecordT", bound=BaseModel)


class PageInfo(MomentModel):
    number: int = Field(ge=0, alias="number")  # 0-based
    size: int = Field(ge=0, alias="size")
    total_elements: int = Field(ge=0, alias="totalElements")
    total_pages: int = Field(ge=0, alias="totalPages")


class Page(MomentModel, Generic[RecordT]):
    """Moment's Spring-style page.

    ``{"content": [...], "page": {"number", "size", "totalElements", "totalPages"}}``, 0-based.
    """

    content: list[RecordT] = Field(default_factory=list, alias="content")
    page: PageInfo = Field(alias="page")

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_list(cls, data: Any) -> Any:
        # Tolerate an endpoint answering a bare JSON array: one page holding everything.
        if isinstance(data, list):
            return {
                "content": data,
                "page": {"number": 0, "size": len(data), "totalElements": len(data), "totalPages": 1},
            }
        return data

    @property
    def is_last(self) -> bool:
        return not self.content or self.page.number + 1 >= self.page.total_pages


# --- error bodies ------------------------------------------------------------------------------


class MomentErrorBody(MomentModel):
    """Moment's error JSON, as read by Moment's own front-end helper (``message``, ``details``)."""

    message: str | None = Field(default=None, alias="message")
    details: Any = Field(default=None, alias="details")


# --- webhook payloads --------------------------------------------------------------------------
# Documented (moment.md §1.2) for invoices only; customer/project/offer/claim mirror it (GUESS).
# Only the entity's top-level ``id`` is trusted; the rest is kept for operators.

WEBHOOK_EVENT_KEY = "event"


class WebhookEvent(StrEnum):
    CREATE_NEW = "CREATE_NEW"  # documented: "invoice is finalized"
    UPDATE = "UPDATE"  # GUESS: spelling of change events is unknown
    DELETE = "DELETE"  # GUESS


class WebhookEnvelope(MomentModel):
    event: str = Field(min_length=1, max_length=200, alias="event")


class WebhookRef(MomentModel):
    id: StrictInt = Field(gt=0)


class WebhookNestedCustomer(MomentModel):
    """A customer mentioned inside another entity's webhook: informative only, so all optional."""

    id: int | None = None
    customer_number: str | None = Field(default=None, alias="customerNumber")


class WebhookNestedProject(MomentModel):
    id: int | None = None
    project_number: str | None = Field(default=None, alias="projectNumber")


class WebhookCustomerRef(WebhookRef):
    customer_number: str | None = Field(default=None, alias="customerNumber")


class WebhookProjectRef(WebhookRef):
    project_number: str | None = Field(default=None, alias="projectNumber")
    customer: WebhookNestedCustomer | None = Field(default=None, alias="customer")


class WebhookInvoiceRef(WebhookRef):
    invoice_number: int | str | None = Field(default=None, alias="invoiceNumber")
    customer: WebhookNestedCustomer | None = Field(default=None, alias="customer")
    project: WebhookNestedProject | None = Field(default=None, alias="project")


class WebhookOfferRef(WebhookRef):
    pass


class WebhookClaimRef(WebhookRef):
    pass


# Top-level key of a webhook body -> the model of its object. Order is the order of error messages.
WEBHOOK_ENTITY_MODELS: dict[str, type[WebhookRef]] = {
    "customer": WebhookCustomerRef,
    "project": WebhookProjectRef,
    "invoice": WebhookInvoiceRef,
    "offer": WebhookOfferRef,
    "claim": WebhookClaimRef,
}
