"""Every SpareBank 1 Regnskap (Unimicro platform) field name, as pydantic models (PascalCase, as sent).

Attribute names *are* the platform's JSON names (docs/reference/sparebank1.md §3-§6), so a misspelling is
visible here and nowhere else. Models keep unknown fields (``extra="allow"``): an update PUTs the object we
fetched with our fields changed, and whatever the platform owns travels back untouched. ``_createguid`` (the
platform's insert-once key for new child rows) is the ``createguid`` attribute.

Amounts are ``Decimal`` kroner, as the platform speaks; øre exist only on our side of
``connectors.sparebank1.mapping``. ``dumps`` writes Decimals as exact JSON numbers (never via float).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Status codes (docs/reference/sparebank1.md §4.1, §5).
CUSTOMER_ACTIVE, CUSTOMER_INACTIVE = 30001, 50001
PROJECT_REGISTERED, PROJECT_OFFER, PROJECT_IN_PROGRESS, PROJECT_COMPLETED, PROJECT_DISCARDED = (
    42201,
    42202,
    42203,
    42204,
    42205,
)
PHONE_TYPE_PHONE, PHONE_TYPE_FAX = 150101, 150103
CUSTOMER_EXPAND = "Info,Info.DefaultEmail,Info.DefaultPhone,Info.InvoiceAddress,Info.Phones"


class UniModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def new_body(self) -> dict[str, Any]:
        """A POST body: only what we set."""
        return self.model_dump(by_alias=True, exclude_none=True)

    def echo_body(self) -> dict[str, Any]:
        """A PUT body: the fetched object with our changes, every ID kept (None clears a field).

        ``StatusCode`` stays out: statuses change only through the platform's actions.
        """
        body = self.model_dump(by_alias=True)
        body.pop("StatusCode", None)
        return body


class NewRow(UniModel):
    """A child row: ``ID`` when it exists, ``_createguid`` when this write creates it."""

    ID: int | None = None
    createguid: str | None = Field(default=None, alias="_createguid")


class CompanySummary(UniModel):
    ID: int | None = None
    Key: str | None = None
    CompanyKey: str | None = None
    Name: str | None = None
    CompanyName: str | None = None
    OrganizationNumber: str | None = None
    IsTest: bool | None = None

    @property
    def key(self) -> str:
        return (self.Key or self.CompanyKey or "").strip()


class CurrencyCode(UniModel):
    ID: int
    Code: str | None = None


class VatTypePercentage(UniModel):
    VatPercent: Decimal | None = None
    ValidFrom: dt.date | None = None
    ValidTo: dt.date | None = None


class VatType(UniModel):
    ID: int
    VatCode: str | None = None
    Name: str | None = None
    VatPercent: Decimal | None = None
    OutputVat: bool | None = None
    OutgoingAccountID: int | None = None
    Visible: bool | None = None
    # The rates by date (unimicro-biz-swagger.json VatTypePercentage): VatPercent is only today's.
    VatTypePercentages: list[VatTypePercentage] | None = None

    def percent_on(self, day: dt.date | None) -> Decimal | None:
        """The rate valid on ``day``, else VatPercent (a platform or answer without dated rates)."""
        for rate in self.VatTypePercentages or []:
            if day is None or rate.VatPercent is None:
                continue
            if (rate.ValidFrom is None or rate.ValidFrom <= day) and (
                rate.ValidTo is None or day <= rate.ValidTo
            ):
                return rate.VatPercent
        return self.VatPercent


class Account(UniModel):
    ID: int
    AccountNumber: int | None = None
    AccountName: str | None = None
    CustomerID: int | None = None
    VatTypeID: int | None = None
    Active: bool | None = None
    # unimicro-biz-swagger.json Account: Locked, LockManualPosts ("sperret for manuelle føringer").
    Locked: bool | None = None
    LockManualPosts: bool | None = None


class Email(NewRow):
    EmailAddress: str | None = None


class Phone(NewRow):
    Number: str | None = None
    Type: int | None = None


class Address(NewRow):
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    PostalCode: str | None = None
    City: str | None = None
    Country: str | None = None
    CountryCode: str | None = None


class BusinessRelation(NewRow):
    Name: str | None = None
    DefaultEmail: Email | None = None
    DefaultPhone: Phone | None = None
    InvoiceAddress: Address | None = None
    Phones: list[Phone] | None = None
    Emails: list[Email] | None = None


class Customer(NewRow):
    CustomerNumber: int | None = None
    OrgNumber: str | None = None
    WebUrl: str | None = None
    CurrencyCodeID: int | None = None
    StatusCode: int | None = None
    Info: BusinessRelation | None = None


class Project(NewRow):
    Name: str | None = None
    ProjectNumber: str | None = None
    ProjectNumberNumeric: int | None = None
    ProjectCustomerID: int | None = None
    StartDate: dt.date | None = None
    EndDate: dt.date | None = None
    StatusCode: int | None = None


class ProjectDimensions(NewRow):
    """A line's dimensions (only the project is ours)."""

    ProjectID: int | None = None


class JournalEntryLineDraft(UniModel):
    AccountID: int
    Amount: Decimal
    FinancialDate: dt.date
    VatDate: dt.date | None = None
    DueDate: dt.date | None = None
    VatTypeID: int | None = None
    InvoiceNumber: str | None = None
    PaymentID: str | None = None
    Description: str | None = None
    JournalEntryNumber: str | None = None
    Dimensions: ProjectDimensions | None = None


class JournalEntry(UniModel):
    ID: int | None = None
    JournalEntryNumber: str | None = None
    Description: str | None = None
    # The natural key of a booked Moment invoice (docs/reference/sparebank1.md §8): set on booking, looked up
    # on retry.
    ExternalReference: str | None = None
    ExternalSource: str | None = None
    DraftLines: list[JournalEntryLineDraft] | None = None
    Lines: list[JournalEntryLine] | None = None


class JournalEntryLine(UniModel):
    ID: int | None = None
    JournalEntryID: int | None = None
    JournalEntryNumber: str | None = None
    AccountID: int | None = None
    SubAccountID: int | None = None
    Amount: Decimal | None = None
    VatTypeID: int | None = None
    InvoiceNumber: str | None = None
    PaymentID: str | None = None
    FinancialDate: dt.date | None = None
    DueDate: dt.date | None = None
    StatusCode: int | None = None
    Description: str | None = None


JournalEntry.model_rebuild()

# Query fields (select=) for the lookups that must stay small.
JOURNAL_ENTRY_KEY_SELECT = "ID,JournalEntryNumber,ExternalReference,ExternalSource"
JOURNAL_LINE_SELECT = (
    "ID,JournalEntryID,JournalEntryNumber,AccountID,SubAccountID,Amount,VatTypeID,InvoiceNumber,"
    "PaymentID,StatusCode"
)


class ValidationResult(UniModel):
    Message: str | None = None
    PropertyName: str | None = None
    EntityType: str | None = None
    Level: int | None = None


class ErrorBody(UniModel):
    """The platform's error shapes (docs/reference/sparebank1.md §3.4): any of the three may be filled."""

    Message: str | None = None
    message: str | None = None
    ExceptionMessage: str | None = None
    Messages: list[ValidationResult] | None = None
    validation_results: dict[str, list[ValidationResult]] | None = Field(
        default=None, alias="_validationResults"
    )


def quote(value: str) -> str:
    """A string literal for ``filter=`` (``'`` doubled, as the platform's own clients do)."""
    return "'" + value.replace("'", "''") + "'"


def dumps(body: Any) -> bytes:
    """JSON with Decimals as exact numbers and dates as ``YYYY-MM-DD`` (json.dumps would need a float)."""
    return _encode(body).encode()


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amounts must be finite")
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, BaseModel):
        return _encode(value.model_dump(by_alias=True))
    return json.dumps(value)


def loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)
