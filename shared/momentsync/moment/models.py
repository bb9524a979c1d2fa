"""Moment's JSON, as pydantic models: **every Moment field name lives in this module**.

Moment's swagger is not public (docs/reference/moment.md §2.5), so apart from the few
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

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from momentsync.errors import PermanentError

ORE_PER_UNIT = Decimal(100)


def to_ore(amount: Decimal) -> int:
    """A currency amount as integer minor units, rounded half away from zero."""
    return int((amount * ORE_PER_UNIT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _loose(value: str | None) -> str:
    """``"To transfer"``, ``"TO_TRANSFER"`` and ``"toTransfer"`` compare equal."""
    return re.sub(r"[^a-z0-9]", "", (value or "").lower())


def _names(*names: str) -> AliasChoices:
    """Every name Moment may use for one field; the first is the one we serialise (and the guess)."""
    return AliasChoices(*names)


class MomentModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True, frozen=True)

    @property
    def sent_fields(self) -> list[str]:
        """The keys Moment actually sent (recognised under any accepted name, plus unknown ones)."""
        sent = []
        for name in self.model_fields_set:
            info = type(self).model_fields.get(name)
            sent.append(info.alias if info is not None and info.alias else name)
        return sorted({*sent, *(self.model_extra or {})})

    def was_sent(self, name: str) -> bool:
        """Whether Moment sent the field (under any accepted name): an absent field is not a null."""
        return name in self.model_fields_set


class MomentFieldMissing(PermanentError):
    """A record lacks a field the transfer needs, or sent one we cannot read safely.

    Names the field (as we expect it) and the fields Moment did send, so a renamed field in Moment's
    API is one look away from its fix in this module; never a silently empty value.
    """

    def __init__(self, what: str, field_name: str, problem: str, sent: list[str]) -> None:
        super().__init__(
            f"Moment {what}: {problem} (field {field_name!r}); Moment sent: {', '.join(sent) or 'nothing'}"
        )
        self.field_name = field_name
        self.sent = sent


def _nest_flat_ref(data: Any, key: str, flat: dict[str, str], required: tuple[str, ...] = ("id",)) -> Any:
    """Moment's includes flatten inner objects (``customer.name`` arrives as ``customerName``).

    Rebuild the nested form from the flat fields so one model covers both shapes; a nested object
    that is present is completed with flat fields it lacks. ``flat`` maps flat alias -> nested
    alias; nothing is built unless one of the nested ``required`` fields is among them.
    """
    if not isinstance(data, dict):
        return data
    nested = {inner: data[outer] for outer, inner in flat.items() if data.get(outer) is not None}
    present = data.get(key)
    if isinstance(present, dict):
        return {**data, key: {**nested, **present}} if nested else data
    if present is not None or not any(name in nested for name in required):
        return data
    return {**data, key: nested}


def _code_of_objects(data: Any, keys: tuple[str, ...]) -> Any:
    """``{"currency": {"code": "EUR", ...}}`` -> ``{"currency": "EUR"}``; an object without a code is left
    as is, so validation names the field instead of guessing."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key in keys:
        value = data.get(key)
        if isinstance(value, dict):
            code = next(
                (value[k] for k in ("code", "isoCode", "currencyCode", "countryCode") if value.get(k)), None
            )
            if code is not None:
                out[key] = code
    return out


def _alias_choices(model: type[BaseModel], name: str) -> list[str]:
    alias = model.model_fields[name].validation_alias
    return [str(choice) for choice in alias.choices] if isinstance(alias, AliasChoices) else []


def _same(a: Any, b: Any) -> bool:
    """Equal as numbers when both read as numbers (11.5 and "11.50"), else loosely as text."""
    if not isinstance(a, bool) and not isinstance(b, bool):
        try:
            return Decimal(str(a).strip()) == Decimal(str(b).strip())
        except ArithmeticError:
            pass
    return _loose(str(a)) == _loose(str(b))


def _no_conflicting_names(data: Any, fields: dict[str, tuple[str, ...]]) -> Any:
    """Moment sending one field under two of its specific names with different values (``currencyCode:
    NOK`` and ``currency: EUR``): which one is meant is unknown, so the record does not fit (naming both)
    instead of the first name silently winning. Only specific names are compared: a generic one
    (``rate``, ``type``, ``date``) may well mean something else, and our exact guess wins over it."""
    if not isinstance(data, dict):
        return data
    for names in fields.values():
        sent = [(alias, data[alias]) for alias in names if data.get(alias) is not None]
        for alias, value in sent[1:]:
            if not _same(sent[0][1], value):
                raise ValueError(
                    f"field {sent[0][0]!r} sent twice with different values: {sent[0][0]}={sent[0][1]!r} "
                    f"and {alias}={value!r}"
                )
    return data


# Accepted names that are generic words: they may carry something else (a self link in ``url``, a
# workflow ``status``), so a value under one never overrides a null under our specific guess.
_GENERIC_NAMES = frozenset({"url", "state", "status", "type", "date", "number", "text", "name", "rate"})


def _values_over_nulls(model: type[BaseModel], data: Any) -> Any:
    """A field sent as null under one accepted name and with a value under another specific one
    (``email: null``, ``mail: "post@acme.no"``) is that value: the null must not erase it in the
    target."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name in model.model_fields:
        choices = _alias_choices(model, name)
        if any(out.get(alias) is not None for alias in choices if alias not in _GENERIC_NAMES):
            for alias in choices:
                if alias in out and out[alias] is None:
                    del out[alias]
    return out


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
    """A bookkeeping account; names as observed on Moment's ``financialAccounts`` (docs/reference/moment.md
    §7).

    An invoice line may carry only the account's id (``financialAccountId``): the client then
    fills the rest in from ``GET financialAccounts`` (``account_number`` is None until it has).
    """

    id: int | None = None
    account_number: str | None = Field(default=None, alias="accountNumber")
    # The SAF-T standard VAT code set on the account in Moment (Setup / Accounting / Bookkeeping
    # accounts); may be missing (e.g. 7740 Øreavrunding needs none). [INF: externalTaxCode]
    external_tax_code: str | None = Field(default=None, alias="externalTaxCode")
    # Observed on financialAccounts next to externalTaxCode; used when externalTaxCode is absent.
    vat_category_code: str | None = Field(default=None, alias="vatCategoryCode")
    name: str | None = Field(default=None, alias="name")
    current_vat_percentage: Decimal | None = Field(default=None, alias="currentVatPercentage")
    version: int | None = Field(default=None, alias="version")  # observed on financialAccounts
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")  # observed

    @property
    def vat_code(self) -> str | None:
        for code in (self.external_tax_code, self.vat_category_code):
            if code and code.strip():
                return code.strip()
        return None


_CUSTOMER_FLAT = {"customerId": "id", "customerNumber": "customerNumber", "customerName": "name"}
_PROJECT_FLAT = {"projectId": "id", "projectNumber": "projectNumber", "projectName": "name"}
# Flat forms of a line's account: Moment's documented include flattening (financialAccount.x ->
# financialAccountX) and the bare names seen on financialAccounts.
_ACCOUNT_FLAT = {
    "financialAccountId": "id",
    "financialAccountAccountNumber": "accountNumber",
    "financialAccountExternalTaxCode": "externalTaxCode",
    "financialAccountVatCategoryCode": "vatCategoryCode",
    "financialAccountName": "name",
    "accountNumber": "accountNumber",
    "externalTaxCode": "externalTaxCode",
    "vatCategoryCode": "vatCategoryCode",
}
_CREDITED_FLAT = {
    "creditedInvoiceId": "id",
    "creditedInvoiceNumber": "invoiceNumber",
    "originalInvoiceId": "id",
    "originalInvoiceNumber": "invoiceNumber",
}

_CREDITED_BY_NUMBER = frozenset({"creditedInvoiceNumber", "originalInvoiceNumber"})


# Nested field (its Moment name) -> the flat keys that can stand for it (for the probe's report).
FLAT_FORMS: dict[str, tuple[str, ...]] = {
    "customer": tuple(_CUSTOMER_FLAT),
    "project": tuple(_PROJECT_FLAT),
    "financialAccount": tuple(_ACCOUNT_FLAT),
    "creditedInvoice": tuple(_CREDITED_FLAT),
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
    # GUESS, all of the optional fields below: each accepts the plausible names (first = our guess).
    # A field Moment did not send is "unknown", never "empty": see ``was_sent`` and the Fiken update.
    organization_number: str | None = Field(
        default=None,
        alias="organizationNumber",
        validation_alias=_names("organizationNumber", "orgNumber", "organisationNumber", "orgNo"),
    )
    email: str | None = Field(
        default=None, alias="email", validation_alias=_names("email", "mail", "emailAddress")
    )
    invoice_email: str | None = Field(
        default=None, alias="invoiceEmail", validation_alias=_names("invoiceEmail", "invoiceEmailAddress")
    )
    phone: str | None = Field(
        default=None, alias="phone", validation_alias=_names("phone", "phoneNumber", "telephone")
    )
    fax: str | None = Field(default=None, alias="fax")
    website: str | None = Field(
        default=None, alias="website", validation_alias=_names("website", "homepage", "url")
    )
    street: str | None = Field(
        default=None, alias="address", validation_alias=_names("address", "streetAddress", "address1")
    )
    street2: str | None = Field(
        default=None, alias="address2", validation_alias=_names("address2", "streetAddress2", "addressLine2")
    )
    post_code: str | None = Field(
        default=None, alias="postalCode", validation_alias=_names("postalCode", "zipCode", "postCode", "zip")
    )
    city: str | None = Field(
        default=None, alias="city", validation_alias=_names("city", "postalArea", "town")
    )
    # ISO 3166-1 alpha-2; ``country`` may carry a code or an object with one (see the validator).
    country_code: str | None = Field(
        default=None, alias="countryCode", validation_alias=_names("countryCode", "country")
    )
    currency_code: str | None = Field(
        default=None, alias="currencyCode", validation_alias=_names("currencyCode", "currency")
    )
    language: str | None = Field(
        default=None, alias="language", validation_alias=_names("language", "languageCode")
    )
    customer_state: str | None = Field(
        default=None, alias="customerState", validation_alias=_names("customerState", "state", "status")
    )
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")

    @model_validator(mode="before")
    @classmethod
    def _accept_code_objects(cls, data: Any) -> Any:
        return _values_over_nulls(
            cls, _code_of_objects(data, ("country", "countryCode", "currency", "currencyCode"))
        )

    @property
    def active(self) -> bool:
        """False only when Moment says inactive (a missing state counts as active)."""
        return _loose(self.customer_state) != CustomerState.INACTIVE.value

    @property
    def address_lines(self) -> list[str]:
        return [line for line in (self.street, self.street2) if line]


# --- projects ----------------------------------------------------------------------------------


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


# Spellings of each status (compared loosely). Anything else, including "NONE" or a number, is an
# error naming the value: guessing "to transfer" would book invoices marked "Do not transfer".
_TO_TRANSFER = frozenset(
    {"totransfer", "nottransferred", "notexported", "readyforexport", "toexport", "pending"}
)
_DO_NOT_TRANSFER = frozenset(
    {
        "donottransfer",
        "donottransfertoaccounting",
        "nottransfer",
        "donotexport",
        "noexport",
        "excluded",
        "exclude",
    }
)
_TRANSFERRED = frozenset({"transferred", "hasbeentransferred", "exported"})
_CREDIT_NOTE_TYPES = frozenset({"creditnote", "credit", "creditinvoice", "kreditnota"})
_INVOICE_TYPES = frozenset({"invoice", "ordinary", "normal", "standard", "faktura"})


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
    description: str | None = Field(
        default=None, alias="description", validation_alias=_names("description", "text", "name")
    )  # GUESS
    financial_account: FinancialAccountRef | None = Field(
        default=None, alias="financialAccount", validation_alias=_names("financialAccount", "account")
    )  # GUESS (flat forms accepted, see _ACCOUNT_FLAT)
    quantity: Decimal = Field(
        default=Decimal(1), alias="quantity", validation_alias=_names("quantity", "count")
    )
    unit_price: Decimal = Field(
        alias="unitPrice", validation_alias=_names("unitPrice", "price", "unitPriceExcludingVat")
    )  # GUESS; excl. VAT, before discount
    discount_percent: Decimal = Field(
        default=Decimal(0),
        alias="discountPercentage",
        validation_alias=_names("discountPercentage", "discountPercent", "discount"),
    )  # GUESS; 0..100
    amount_excl_vat: Decimal = Field(
        alias="amountExcludingVat",
        validation_alias=_names("amountExcludingVat", "netAmount", "amountExclVat", "totalExcludingVat"),
    )  # GUESS; after discount
    # GUESS. Required in substance (``missing_field``): a line whose VAT Moment did not send is an error,
    # never 0, unless its amount including VAT is there to derive it from.
    vat_amount: Decimal = Field(
        default=Decimal(0), alias="vatAmount", validation_alias=_names("vatAmount", "vat", "amountVat")
    )
    vat_percent: Decimal | None = Field(
        default=None, alias="vatPercentage", validation_alias=_names("vatPercentage", "vatPercent", "vatRate")
    )  # GUESS
    product_type: str | None = Field(default=None, alias="productType")  # GUESS

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_account(cls, data: Any) -> Any:
        data = _nest_flat_ref(data, "financialAccount", _ACCOUNT_FLAT, required=("id", "accountNumber"))
        if not isinstance(data, dict):
            return data
        has_vat = any(data.get(k) is not None for k in ("vatAmount", "vat", "amountVat", "vat_amount"))
        incl = next((data[k] for k in ("amountIncludingVat", "grossAmount") if data.get(k) is not None), None)
        excl = next(
            (
                data[k]
                for k in ("amountExcludingVat", "netAmount", "amountExclVat")
                if data.get(k) is not None
            ),
            None,
        )
        if not has_vat and incl is not None and excl is not None:
            # VAT under no name we know, but gross and net are there: their difference is the VAT.
            try:
                return {**data, "vatAmount": Decimal(str(incl)) - Decimal(str(excl))}
            except ArithmeticError:
                return data
        return data

    def missing_field(self) -> tuple[str, str] | None:
        """(field, problem) when a field the transfer needs is absent, else ``None``."""
        if not self.was_sent("vat_amount"):
            return "vatAmount", "invoice line has no VAT amount"
        if self.financial_account is None:
            return "financialAccount", "invoice line has no sales account"
        if self.financial_account.account_number is None:
            return "financialAccount.accountNumber", (
                f"invoice line's account {self.financial_account.id} has no account number"
            )
        return None

    @property
    def account_number(self) -> str | None:
        return self.financial_account.account_number if self.financial_account else None

    @property
    def vat_code(self) -> str | None:
        """SAF-T VAT code of the line's sales account (``None`` when the account has none)."""
        return self.financial_account.vat_code if self.financial_account else None

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
    """A Moment invoice or credit note (credit notes are invoices with negative lines).

    Names marked GUESS accept the plausible alternatives listed; ``not_transferable_reason`` raises
    ``MomentFieldMissing`` when something the transfer needs is absent or unreadable.
    """

    id: int
    invoice_number: int | None = Field(
        default=None, alias="invoiceNumber", validation_alias=_names("invoiceNumber", "invoiceNo", "number")
    )  # observed; None while a draft
    description: str | None = Field(
        default=None, alias="description", validation_alias=_names("description", "text", "heading", "title")
    )  # GUESS
    customer: CustomerRef = Field(alias="customer")  # GUESS (nested like the webhook; flat accepted)
    project: ProjectRef | None = Field(default=None, alias="project")  # GUESS (nested; flat accepted)
    invoice_date: date | None = Field(
        default=None,
        alias="invoiceDate",
        validation_alias=_names("invoiceDate", "date", "issueDate", "invoicedDate"),
    )  # GUESS
    due_date: date | None = Field(
        default=None, alias="dueDate", validation_alias=_names("dueDate", "paymentDueDate", "dueDateDate")
    )  # GUESS
    payment_id: str | None = Field(
        default=None, alias="paymentId", validation_alias=_names("paymentId", "kid", "kidNumber", "ocr")
    )  # GUESS; KID, absent when OCR is off
    your_reference: str | None = Field(default=None, alias="yourReference")  # GUESS
    their_reference: str | None = Field(default=None, alias="theirReference")  # GUESS
    our_reference: str | None = Field(default=None, alias="ourReference")  # GUESS
    currency_code: str = Field(
        default="NOK",
        alias="currencyCode",
        validation_alias=_names("currencyCode", "currency", "currencyIsoCode"),
    )  # GUESS; only a record that sent no currency under any name is NOK
    currency_rate: Decimal = Field(
        default=Decimal(1),
        alias="currencyRate",
        validation_alias=_names("currencyRate", "exchangeRate", "currencyExchangeRate", "rate"),
    )  # GUESS; NOK per unit; required when the currency is not NOK
    total_incl_vat: Decimal | None = Field(
        default=None,
        alias="totalAmountIncludingVat",
        validation_alias=_names(
            "totalAmountIncludingVat", "totalIncludingVat", "totalAmount", "amountIncludingVat"
        ),
    )  # GUESS
    total_excl_vat: Decimal | None = Field(
        default=None,
        alias="totalAmountExcludingVat",
        validation_alias=_names(
            "totalAmountExcludingVat", "totalExcludingVat", "netAmount", "amountExcludingVat"
        ),
    )  # GUESS
    total_vat: Decimal | None = Field(
        default=None,
        alias="totalVatAmount",
        validation_alias=_names("totalVatAmount", "totalVat", "vatAmount"),
    )  # GUESS
    credit_note: bool = Field(
        default=False, alias="creditNote", validation_alias=_names("creditNote", "isCreditNote")
    )  # GUESS
    invoice_type: str | None = Field(
        default=None, alias="invoiceType", validation_alias=_names("invoiceType", "type")
    )  # GUESS; e.g. CREDIT_NOTE
    credited_invoice: InvoiceRef | None = Field(
        default=None,
        alias="creditedInvoice",
        validation_alias=_names("creditedInvoice", "originalInvoice", "creditedInvoiceRef"),
    )  # GUESS (flat creditedInvoiceId / originalInvoiceId accepted)
    export_status: str | None = Field(
        default=None,
        alias="exportStatus",
        validation_alias=_names("exportStatus", "accountingExportStatus", "exportState", "transferStatus"),
    )  # GUESS
    invoice_state: str | None = Field(
        default=None, alias="invoiceState", validation_alias=_names("invoiceState", "state", "status")
    )  # GUESS
    # Only returned when the GET asks for the lines part (client.INVOICE_INCLUDE).
    lines: list[InvoiceLine] = Field(
        default_factory=list,
        alias="invoiceLines",
        validation_alias=_names("invoiceLines", "lines", "invoiceRows"),
    )  # GUESS
    last_modified: datetime | None = Field(default=None, alias="lastModifiedDate")

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_refs(cls, data: Any) -> Any:
        data = _nest_flat_ref(_nest_flat_ref(data, "customer", _CUSTOMER_FLAT), "project", _PROJECT_FLAT)
        if isinstance(data, dict) and data.get("originalInvoice") is None:
            data = _nest_flat_ref(data, "creditedInvoice", _CREDITED_FLAT)
        # Booleans and amounts as JSON numbers are fine; a currency as an object gives its code.
        data = _code_of_objects(data, ("currency", "currencyCode", "currencyIsoCode"))
        return _no_conflicting_names(
            data,
            {
                "currency_code": ("currencyCode", "currency", "currencyIsoCode"),
                "currency_rate": ("currencyRate", "exchangeRate", "currencyExchangeRate"),
                "credit_note": ("creditNote", "isCreditNote"),
                "export_status": ("exportStatus", "accountingExportStatus", "exportState", "transferStatus"),
            },
        )

    @field_validator("invoice_number", mode="after")
    @classmethod
    def _no_number_is_not_zero(cls, value: int | None) -> int | None:
        # Moment numbers finalized invoices from 1 up; 0 (or less) is how an API may say "no number
        # yet": read as null, so a draft is not booked as invoice 0 (and every later one adopted it).
        return value if value is None or value > 0 else None

    @field_validator("currency_code", mode="after")
    @classmethod
    def _normalised_currency(cls, value: str) -> str:
        return value.strip().upper()  # " eur " would pass the ISO check and reach Fiken as " eur "

    @field_validator("currency_code", mode="after")
    @classmethod
    def _currency_as_code(cls, value: str) -> str:
        # " nok " passes the completeness check as NOK: every later branch (NOK or foreign, the
        # targets' ^[A-Z]{3}$) must read the same code.
        return value.strip().upper()

    # -- completeness (fail closed on guessed names) -----------------------------------------------

    def _missing(self, field_name: str, problem: str, sent: list[str] | None = None) -> MomentFieldMissing:
        what = f"invoice {self.invoice_number or self.id}" if self.invoice_number else f"invoice id {self.id}"
        return MomentFieldMissing(what, field_name, problem, self.sent_fields if sent is None else sent)

    def check_complete(self) -> None:
        """Raise ``MomentFieldMissing`` when a finalized invoice lacks what its transfer needs."""
        if self.invoice_date is None:
            raise self._missing("invoiceDate", "finalized invoice has no invoice date")
        code = (self.currency_code or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise self._missing("currencyCode", f"currency {self.currency_code!r} is not an ISO 4217 code")
        if code != "NOK" and not self.was_sent("currency_rate"):
            raise self._missing("currencyRate", f"invoice in {code} has no exchange rate")
        if code != "NOK" and self.currency_rate <= 0:
            raise self._missing("currencyRate", f"exchange rate {self.currency_rate} is not positive")
        if code != "NOK" and self.currency_rate == 1:
            # No currency trades at par with NOK: a rate of exactly 1 is a default, not a rate, and
            # would book the foreign amounts as NOK.
            raise self._missing("currencyRate", f"exchange rate 1 for {code} is a default, not a rate")
        if self.credited_invoice is None:
            by_number = {k: v for k, v in (self.model_extra or {}).items() if k in _CREDITED_BY_NUMBER and v}
            if by_number:
                # A credit note naming its original only by number: booked as an ordinary negative
                # invoice, the original never credited, unless the id (our link to it) is there too.
                key, number = next(iter(by_number.items()))
                raise self._missing(
                    "creditedInvoice.id",
                    f"credit note names the credited invoice {number} only by number ({key})",
                )
        kind = _loose(self.invoice_type)
        if kind and kind not in _CREDIT_NOTE_TYPES | _INVOICE_TYPES:
            raise self._missing("invoiceType", f"unknown invoice type {self.invoice_type!r}")
        if not self.was_sent("lines"):
            raise self._missing("invoiceLines", "invoice has no lines (the lines include is missing)")
        for index, line in enumerate(self.lines):
            missing = line.missing_field()
            if missing is not None:
                field_name, problem = missing
                raise self._missing(f"invoiceLines[{index}].{field_name}", problem, line.sent_fields)

    # -- state ----------------------------------------------------------------------------------

    @property
    def finalized(self) -> bool:
        """Finalized = has an invoice number and is not a draft (Moment numbers invoices on finalizing)."""
        return self.invoice_number is not None and _loose(self.invoice_state) != InvoiceState.DRAFT.value

    @property
    def export_status_kind(self) -> ExportStatus | None:
        if self.export_status is None:
            return None
        status = _loose(str(self.export_status))
        if status in _DO_NOT_TRANSFER:
            return ExportStatus.DO_NOT_TRANSFER
        if status in _TRANSFERRED:
            return ExportStatus.TRANSFERRED
        if status in _TO_TRANSFER:
            return ExportStatus.TO_TRANSFER
        raise self._missing("exportStatus", f"unknown export status {self.export_status!r}")

    @property
    def not_transferable_reason(self) -> str | None:
        """Why this invoice must not go to accounting now, or ``None`` when it may.

        Raises ``MomentFieldMissing`` when the record cannot be judged safely: a number-less invoice
        that does not say it is a draft (a renamed ``invoiceNumber``), an unknown export status, or a
        finalized invoice lacking what its transfer needs.
        """
        if _loose(self.invoice_state) == InvoiceState.DRAFT.value:
            return "invoice is a draft in Moment (not finalized)"
        if self.invoice_number is None:
            if self.was_sent("invoice_number") and not self.invoice_state:
                return "invoice is a draft in Moment (no invoice number yet)"
            problem = (
                f"invoice in state {self.invoice_state!r} has no invoice number"
                if self.invoice_state
                else "invoice has no invoice number and does not say it is a draft"
            )
            raise self._missing("invoiceNumber", problem)
        if self.export_status_kind is ExportStatus.DO_NOT_TRANSFER:
            return "export status in Moment is 'Do not transfer to accounting'"
        self.check_complete()
        return None

    @property
    def transferable(self) -> bool:
        # "Has been transferred" still counts: our own sync state decides what is already booked.
        return self.not_transferable_reason is None

    @property
    def is_credit_note(self) -> bool:
        return (
            self.credit_note
            or self.credited_invoice is not None
            or _loose(self.invoice_type) in _CREDIT_NOTE_TYPES
        )

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

    content: list[RecordT] = Field(alias="content")
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
        if isinstance(data, dict) and "content" not in data:
            # An unknown list key must not read as "no records".
            raise ValueError(
                f"no 'content' list in Moment's page; it sent: {', '.join(sorted(data)) or 'nothing'}"
            )
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
# Documented (docs/reference/moment.md §1.2) for invoices only; customer/project/offer/claim mirror it
# (GUESS). Only the entity's top-level ``id`` is trusted; the rest is kept for operators.

WEBHOOK_EVENT_KEY = "event"


class WebhookEvent(StrEnum):
    CREATE_NEW = "CREATE_NEW"  # documented: "invoice is finalized"
    UPDATE = "UPDATE"  # GUESS: spelling of change events is unknown
    DELETE = "DELETE"  # GUESS


# Moment's ids are positive 64-bit integers (Java longs); anything larger can never be a record and
# would not fit DynamoDB's 38-digit numbers in sync state and the transfer log.
MOMENT_ID_MAX = 2**63 - 1


class WebhookEnvelope(MomentModel):
    # A short name such as CREATE_NEW: a number, a float or a long text is not an event name.
    event: StrictStr = Field(min_length=1, max_length=64, alias="event")


class WebhookRef(MomentModel):
    id: StrictInt = Field(gt=0, le=MOMENT_ID_MAX)


class WebhookNestedCustomer(MomentModel):
    """A customer mentioned inside another entity's webhook: informative only, so all optional."""

    id: StrictInt | None = Field(default=None, gt=0, le=MOMENT_ID_MAX)
    customer_number: str | None = Field(default=None, alias="customerNumber")


class WebhookNestedProject(MomentModel):
    id: StrictInt | None = Field(default=None, gt=0, le=MOMENT_ID_MAX)
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
