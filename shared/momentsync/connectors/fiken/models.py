"""Every Fiken JSON field and query-parameter name, as pydantic models named after the spec's schemas.

Contract: ``contracts/fiken-openapi.yaml`` (Fiken's published spec) (tests validate dumped bodies against it).

- Requests (``FikenRequest``) reject unknown fields when built: Fiken answers 400 to some unexpected
  fields and silently drops others (docs/reference/fiken.md §4), so a misspelt field must fail here, not
  there. They dump with aliases and without ``None`` (``to_body``). Read-only fields of a schema are not on
  them.
- Results (``FikenResult``) ignore fields they do not know, so Fiken adding a field breaks nothing.
  Where the spec uses one schema both ways (``contact``, ``address``, ``contactPerson``,
  ``orderLine``), there is a request model and a ``…Result`` twin.
- Filters (``FikenFilter``) are the query parameters of list endpoints. Fiken ignores unknown filters,
  which would turn a natural-key lookup into "everything", so they are validated the same way.

Python names are snake_case; the camelCase JSON name is the alias (either is accepted on input).
Money is integer øre (``Ore``: strict ``int``, a float is refused). Quantities and percentages are
``Decimal`` and go out as JSON numbers. Dates are ``datetime.date`` and go out as ``yyyy-MM-dd``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, Strict
from pydantic.alias_generators import to_camel


def _json_number(value: Decimal) -> int | float:
    # pydantic would write a Decimal as a JSON string; Fiken's schema says number.
    return int(value) if value == value.to_integral_value() else float(value)


Ore = Annotated[int, Strict()]
"""An amount in øre (1/100 NOK or cents of the currency); Fiken ignores fractions, so none are allowed."""

Number = Annotated[Decimal, PlainSerializer(_json_number, return_type=int | float, when_used="json")]
Percent = Annotated[Number, Field(ge=0, le=100)]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

_NAMING = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True)


class FikenRequest(BaseModel):
    model_config = ConfigDict(**_NAMING, extra="forbid")

    def to_body(self) -> dict[str, Any]:
        """The JSON body Fiken gets: spec names, no unset fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class FikenResult(BaseModel):
    model_config = ConfigDict(**_NAMING, extra="ignore")


class FikenFilter(BaseModel):
    model_config = ConfigDict(**_NAMING, extra="forbid")

    def to_params(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- enums
class ContactLanguage(StrEnum):
    NORWEGIAN = "NORWEGIAN"
    ENGLISH = "ENGLISH"


class RoundingType(StrEnum):
    """Øreavrunding of a document's total (NOK only)."""

    NONE = "none"
    ROUND_HALF = "round_half"
    ROUND_WHOLE = "round_whole"
    ROUND_DOWN_HALF = "round_down_half"
    ROUND_DOWN_WHOLE = "round_down_whole"


class BankAccountType(StrEnum):
    NORMAL = "normal"
    TAX_DEDUCTION = "tax_deduction"
    FOREIGN = "foreign"
    CREDIT_CARD = "credit_card"


class SaleKind(StrEnum):
    CASH_SALE = "cash_sale"
    INVOICE = "invoice"
    EXTERNAL_INVOICE = "external_invoice"


# ---------------------------------------------------------------- shared parts
class Address(FikenRequest):
    street_address: str | None = None
    street_address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None  # a string: "0550" keeps its leading zero
    country: str = Field(min_length=1)


class AddressResult(FikenResult):
    street_address: str | None = None
    street_address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None
    country: str | None = None


class Attachment(FikenResult):
    identifier: str | None = None
    download_url: str | None = None
    download_url_with_fiken_normal_user_credentials: str | None = None
    comment: str | None = None
    type: str | None = None


class Counter(FikenResult):
    """An invoice / credit-note number counter; sent empty (``{}``) it starts at Fiken's 10000."""

    value: int | None = None

    def to_body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# ---------------------------------------------------------------- contacts
class ContactPerson(FikenRequest):
    name: str = Field(min_length=1)
    email: str = Field(min_length=1)
    phone_number: str | None = None
    address: Address | None = None


class ContactPersonResult(FikenResult):
    contact_person_id: int | None = None
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    address: AddressResult | None = None


class Contact(FikenRequest):
    """Body of both POST and PUT /contacts. PUT replaces the whole contact: send every field you keep.

    ``customer`` defaults to false at Fiken, so a PUT without ``customer=True`` demotes a customer.
    ``phoneNumber``, ``memberNumberString`` and ``currency`` are write-only: a GET never returns them,
    so a contact rebuilt from a GET loses them unless they are set again.
    """

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=200)
    organization_number: str | None = Field(default=None, max_length=200)
    phone_number: str | None = Field(default=None, max_length=20)
    # Free text Fiken keeps for us and can filter on: our link from a Fiken contact back to Moment.
    member_number_string: str | None = None
    customer: bool | None = None
    supplier: bool | None = None
    bank_account_number: str | None = Field(default=None, max_length=11)
    contact_person: list[ContactPerson] | None = None
    currency: CurrencyCode | None = None
    language: ContactLanguage | None = None
    inactive: bool | None = None
    days_until_invoicing_due_date: int | None = None
    discount: Percent | None = None
    address: Address | None = None
    groups: list[str] | None = None


class ContactResult(FikenResult):
    contact_id: int
    created_date: dt.date | None = None
    last_modified_date: dt.date | None = None
    name: str
    email: str | None = None
    organization_number: str | None = None
    customer_number: int | None = None
    customer_account_code: str | None = None
    supplier_number: int | None = None
    supplier_account_code: str | None = None
    # Write-only in the spec; read in case Fiken (or an emulator) returns them after all.
    phone_number: str | None = None
    member_number_string: str | None = None
    currency: str | None = None
    customer: bool | None = None
    supplier: bool | None = None
    bank_account_number: str | None = None
    contact_person: list[ContactPersonResult] = Field(default_factory=list)
    language: str | None = None
    inactive: bool | None = None
    days_until_invoicing_due_date: int | None = None
    discount: Decimal | None = None
    address: AddressResult | None = None
    groups: list[str] = Field(default_factory=list)

    def to_contact(self, **changes: Any) -> Contact:
        """The writable fields as a ``Contact`` for a PUT, with ``changes`` (Python names) applied.

        Contact persons are carried without their ids (read-only). Write-only fields come along only if
        Fiken returned them: pass ``member_number_string`` etc. in ``changes`` to keep them.
        """
        kept = self.model_dump(exclude_none=True, include=set(Contact.model_fields))
        kept.pop("address", None)
        kept.pop("contact_person", None)
        if not kept.get("groups"):
            kept.pop("groups", None)
        if self.address is not None and self.address.country:  # Fiken requires a country when sent
            kept["address"] = self.address.model_dump(exclude_none=True)
        persons = [_person_to_request(p) for p in self.contact_person if p.name and p.email]
        if persons:
            kept["contact_person"] = persons
        language = (self.language or "").upper()
        if language in ContactLanguage.__members__:
            kept["language"] = language  # the spec's own example says "Norwegian"
        else:
            kept.pop("language", None)
        return Contact.model_validate({**kept, **changes})


def _person_to_request(person: ContactPersonResult) -> dict[str, Any]:
    kept = person.model_dump(exclude_none=True, exclude={"contact_person_id", "address"})
    if person.address is not None and person.address.country:
        kept["address"] = person.address.model_dump(exclude_none=True)
    return kept


ContactSortOrder = Literal["lastModified asc", "lastModified desc", "createdDate asc", "createdDate desc"]


class ContactFilter(FikenFilter):
    """Query of GET /contacts (``name`` is an exact match)."""

    customer_number: int | None = None
    supplier_number: int | None = None
    member_number_string: str | None = None
    name: str | None = None
    organization_number: str | None = None
    email: str | None = None
    phone_number: str | None = None
    customer: bool | None = None
    supplier: bool | None = None
    inactive: bool | None = None
    group: str | None = None
    last_modified: dt.date | None = None
    last_modified_le: dt.date | None = None
    last_modified_lt: dt.date | None = None
    last_modified_ge: dt.date | None = None
    last_modified_gt: dt.date | None = None
    created_date: dt.date | None = None
    created_date_le: dt.date | None = None
    created_date_lt: dt.date | None = None
    created_date_ge: dt.date | None = None
    created_date_gt: dt.date | None = None
    sort_by: ContactSortOrder | None = None


# ---------------------------------------------------------------- projects
class ProjectRequest(FikenRequest):
    number: str = Field(min_length=1)  # cannot be changed after creation
    name: str = Field(min_length=1)
    description: str | None = None
    start_date: dt.date
    end_date: dt.date | None = None
    contact_id: int | None = None
    completed: bool | None = None


class UpdateProjectRequest(FikenRequest):
    """PATCH body: only the fields set are changed (``number`` is immutable)."""

    name: str | None = None
    description: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    contact_id: int | None = None
    completed: bool | None = None


class ProjectResult(FikenResult):
    project_id: int
    number: str | None = None
    name: str | None = None
    description: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    contact: ContactResult | None = None
    completed: bool | None = None


class ProjectFilter(FikenFilter):
    number: str | None = None
    name: str | None = None
    completed: bool | None = None


# ---------------------------------------------------------------- invoices
class InvoiceLineRequest(FikenRequest):
    """A line of a direct invoice. Fiken needs a vatType (or vatInPercent) and an income account from
    the line or its product; amounts are before ``discount``."""

    quantity: Number
    unit_price: Ore | None = None
    net: Ore | None = None
    vat: Ore | None = None
    gross: Ore | None = None
    vat_type: str | None = None
    vat_in_percent: Number | None = None
    discount: Percent | None = None
    product_id: int | None = None
    product_name: str | None = None  # only without productId
    description: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=200)
    income_account: str | None = None


class InvoiceRequest(FikenRequest):
    """POST /invoices: created, numbered by Fiken's counter and booked at once, not sent."""

    uuid: UUID | None = None
    issue_date: dt.date
    due_date: dt.date
    lines: list[InvoiceLineRequest] = Field(min_length=1)
    our_reference: str | None = None
    your_reference: str | None = None
    order_reference: str | None = None
    customer_id: int
    contact_person_id: int | None = None
    bank_account_code: str  # the bank account's accountCode, e.g. "1920:10001"
    currency: CurrencyCode | None = None
    invoice_text: str | None = Field(default=None, max_length=500)
    cash: bool
    payment_account: str | None = None  # cash invoices only
    project_id: int | None = None
    rounding_type: RoundingType | None = None


class UpdateInvoiceRequest(FikenRequest):
    """PATCH /invoices/{id}: the only changes Fiken allows on an issued invoice."""

    new_due_date: dt.date | None = None
    sent_manually: bool | None = None


class InvoiceLineResult(FikenResult):
    net: int | None = None
    vat: int | None = None
    vat_type: str | None = None
    gross: int | None = None
    net_in_nok: int | None = None
    vat_in_nok: int | None = None
    gross_in_nok: int | None = None
    vat_in_percent: Decimal | None = None
    unit_price: int | None = None
    quantity: Decimal | None = None
    discount: Decimal | None = None
    product_id: int | None = None
    product_name: str | None = None
    description: str | None = None
    comment: str | None = None
    income_account: str | None = None


class InvoiceResult(FikenResult):
    invoice_id: int
    created_date: dt.date | None = None
    last_modified_date: dt.date | None = None
    invoice_number: int | None = None
    kid: str | None = None
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    original_due_date: dt.date | None = None
    net: int | None = None
    vat: int | None = None
    gross: int | None = None
    net_in_nok: int | None = None
    vat_in_nok: int | None = None
    gross_in_nok: int | None = None
    cash: bool | None = None
    invoice_text: str | None = None
    your_reference: str | None = None
    our_reference: str | None = None
    order_reference: str | None = None
    invoice_draft_uuid: str | None = None
    address: AddressResult | None = None
    lines: list[InvoiceLineResult] = Field(default_factory=list)
    currency: str | None = None
    bank_account_number: str | None = None
    sent_manually: bool | None = None
    invoice_pdf: Attachment | None = None
    associated_credit_notes: list[int] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    customer: ContactResult | None = None
    sale: SaleResult | None = None
    project: ProjectResult | None = None


class InvoiceFilter(FikenFilter):
    invoice_number: str | None = None
    order_reference: str | None = None
    invoice_draft_uuid: UUID | None = None
    customer_id: int | None = None
    settled: bool | None = None
    issue_date: dt.date | None = None
    issue_date_le: dt.date | None = None
    issue_date_lt: dt.date | None = None
    issue_date_ge: dt.date | None = None
    issue_date_gt: dt.date | None = None
    due_date: dt.date | None = None
    due_date_le: dt.date | None = None
    due_date_lt: dt.date | None = None
    due_date_ge: dt.date | None = None
    due_date_gt: dt.date | None = None
    last_modified: dt.date | None = None
    last_modified_le: dt.date | None = None
    last_modified_lt: dt.date | None = None
    last_modified_ge: dt.date | None = None
    last_modified_gt: dt.date | None = None


# ---------------------------------------------------------------- credit notes
class FullCreditNoteRequest(FikenRequest):
    issue_date: dt.date
    invoice_id: int
    credit_note_text: str | None = Field(default=None, max_length=500)


class CreditNoteLine(FikenRequest):
    """A line of a partial credit note (the spec's schema is named ``creditNoteLineResult``)."""

    quantity: Number
    unit_price: Ore
    income_account: str | None = None
    vat_type: str | None = None
    discount: Percent | None = None
    product_id: int | None = None
    description: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=200)


class PartialCreditNoteRequest(FikenRequest):
    issue_date: dt.date
    lines: list[CreditNoteLine] = Field(min_length=1)
    invoice_id: int | None = None
    contact_id: int | None = None
    contact_person_id: int | None = None
    # The spec names it "project" here (a project id), unlike "projectId" everywhere else.
    project: int | None = None
    our_reference: str | None = None
    your_reference: str | None = None
    order_reference: str | None = None
    currency: CurrencyCode | None = None
    credit_note_text: str | None = Field(default=None, max_length=500)
    rounding_type: RoundingType | None = None


class CreditNoteResult(FikenResult):
    credit_note_id: int
    credit_note_number: int | None = None
    kid: str | None = None
    customer: ContactResult | None = None
    net: int | None = None
    vat: int | None = None
    gross: int | None = None
    net_in_nok: int | None = None
    vat_in_nok: int | None = None
    gross_in_nok: int | None = None
    credit_note_text: str | None = None
    your_reference: str | None = None
    our_reference: str | None = None
    order_reference: str | None = None
    address: AddressResult | None = None
    lines: list[InvoiceLineResult] = Field(default_factory=list)
    currency: str | None = None
    issue_date: dt.date | None = None
    last_modified_date: dt.date | None = None
    settled: bool | None = None
    associated_invoice_id: int | None = None
    credit_note_draft_uuid: str | None = None
    credit_note_pdf: Attachment | None = None
    project: ProjectResult | None = None
    sale: SaleResult | None = None


class CreditNoteFilter(FikenFilter):
    customer_id: int | None = None
    settled: bool | None = None
    credit_note_draft_uuid: UUID | None = None
    issue_date: dt.date | None = None
    issue_date_le: dt.date | None = None
    issue_date_lt: dt.date | None = None
    issue_date_ge: dt.date | None = None
    issue_date_gt: dt.date | None = None
    last_modified: dt.date | None = None
    last_modified_le: dt.date | None = None
    last_modified_lt: dt.date | None = None
    last_modified_ge: dt.date | None = None
    last_modified_gt: dt.date | None = None


# ---------------------------------------------------------------- sales ("annet salg")
class OrderLine(FikenRequest):
    description: str = Field(min_length=1, max_length=200)
    vat_type: str
    net_price: Ore | None = None
    vat: Ore | None = None
    account: str | None = None  # the income account
    net_price_in_currency: Ore | None = None
    vat_in_currency: Ore | None = None
    project_id: int | None = None


class OrderLineResult(FikenResult):
    description: str | None = None
    vat_type: str | None = None
    net_price: int | None = None
    vat: int | None = None
    account: str | None = None
    net_price_in_currency: int | None = None
    vat_in_currency: int | None = None


class SaleRequest(FikenRequest):
    """POST /sales: a sale whose invoice number and document were made outside Fiken.

    The spec lists ``paid`` as required without defining it: a literal validator rejects a sale
    without it and accepts ``"paid": false`` (docs/reference/fiken.md §8), so it is sent. Moment's invoices
    reach Fiken unpaid; payments are registered in Fiken.
    """

    sale_number: str | None = None
    paid: bool = False
    date: dt.date
    kind: SaleKind
    total_paid: Ore | None = None
    total_paid_in_currency: Ore | None = None
    lines: list[OrderLine] = Field(min_length=1)
    customer_id: int | None = None
    currency: CurrencyCode
    due_date: dt.date | None = None
    kid: str | None = None
    payment_account: str | None = None
    payment_date: dt.date | None = None
    payment_fee: Ore | None = None
    project_id: int | None = None


class SaleResult(FikenResult):
    sale_id: int
    last_modified_date: dt.date | None = None
    transaction_id: int | None = None
    sale_number: str | None = None
    date: dt.date | None = None
    kind: str | None = None
    net_amount: int | None = None
    vat_amount: int | None = None
    settled: bool | None = None
    settled_date: dt.date | None = None
    write_off: bool | None = None
    total_paid: int | None = None
    total_paid_in_currency: int | None = None
    outstanding_balance: int | None = None
    outstanding_balance_in_currency: int | None = None
    lines: list[OrderLineResult] = Field(default_factory=list)
    customer: ContactResult | None = None
    currency: str | None = None
    due_date: dt.date | None = None
    kid: str | None = None
    sale_attachments: list[Attachment] = Field(default_factory=list)
    payment_date: dt.date | None = None
    project: ProjectResult | None = None
    deleted: bool | None = None


class SaleFilter(FikenFilter):
    sale_number: str | None = None
    settled: bool | None = None
    contact_id: int | None = None
    date: dt.date | None = None
    date_le: dt.date | None = None
    date_lt: dt.date | None = None
    date_ge: dt.date | None = None
    date_gt: dt.date | None = None
    last_modified: dt.date | None = None
    last_modified_le: dt.date | None = None
    last_modified_lt: dt.date | None = None
    last_modified_ge: dt.date | None = None
    last_modified_gt: dt.date | None = None


class SaleAttachmentTarget(FikenFilter):
    """Query of POST /sales/{id}/attachments: what the file documents (at least one must be true)."""

    attach_to_sale: bool | None = None
    attach_to_payment: bool | None = None


# ---------------------------------------------------------------- bank accounts, accounts, company
class BankAccountRequest(FikenRequest):
    name: str = Field(min_length=1)
    bank_account_number: str = Field(min_length=1)
    type: BankAccountType
    bic: str | None = None
    iban: str | None = None
    foreign_service: str | None = None  # foreign accounts only
    inactive: bool | None = None


class BankAccountResult(FikenResult):
    bank_account_id: int
    name: str | None = None
    account_code: str | None = None  # what InvoiceRequest.bank_account_code takes
    bank_account_number: str | None = None  # what invoice drafts take
    iban: str | None = None
    bic: str | None = None
    foreign_service: str | None = None
    type: str | None = None
    reconciled_balance: int | None = None
    reconciled_date: dt.date | None = None
    inactive: bool | None = None


class BankAccountFilter(FikenFilter):
    inactive: bool | None = None


class Account(FikenResult):
    """A bookkeeping account of the current year: "3000", or "1500:10001" with a sub-ledger."""

    code: str
    name: str | None = None


class AccountFilter(FikenFilter):
    from_account: int | None = None
    to_account: int | None = None
    range: str | None = None  # e.g. "1000-1500,3000-3999"


class Company(FikenResult):
    slug: str
    name: str | None = None
    organization_number: str | None = None
    vat_type: str | None = None  # "no" means not VAT registered
    address: AddressResult | None = None
    email: str | None = None
    creation_date: dt.date | None = None
    has_api_access: bool | None = None
    test_company: bool | None = None
    accounting_start_date: dt.date | None = None
    vat_registration_date: dt.date | None = None


InvoiceResult.model_rebuild()
CreditNoteResult.model_rebuild()
