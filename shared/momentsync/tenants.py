"""Tenants: who we sync for, where to, and whether their connection is usable.

A tenant is one Moment company connected to one accounting company (Fiken or SpareBank 1 Regnskap).
Stored in the tenants table (partition key ``tenant_id``). Writes are guarded by ``version`` so two
operators (or an operator and the processor) never overwrite each other's change unseen.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class TenantStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # webhooks still queued; processing parks them
    NEEDS_REAUTH = "needs_reauth"  # target system consent gone; events parked until reconnect
    DISABLED = "disabled"  # webhooks refused with 410


class TargetSystem(StrEnum):
    FIKEN = "fiken"
    SPAREBANK1 = "sparebank1"


class InvoiceMode(StrEnum):
    INVOICE = "invoice"  # Fiken numbers the invoice; Moment's number travels as reference
    SALE = "sale"  # Fiken "annet salg": Moment's own number, KID and PDF are the document


class ForeignCurrency(StrEnum):
    """What to do with a foreign-currency invoice where the target books NOK at its own exchange rate
    (Fiken invoices and credit notes take no rate): book it and flag the NOK difference, or refuse it."""

    TARGET_RATE = "target_rate"
    REFUSE = "refuse"


class MappingSettings(BaseModel):
    """Per-tenant choices that change how records are mapped; validated when an operator sets them."""

    model_config = ConfigDict(extra="forbid")

    invoice_mode: InvoiceMode = InvoiceMode.INVOICE
    # SAF-T VAT code (as on Moment's sales account) -> target VAT type, overriding the standard table.
    vat_code_overrides: dict[str, str] = Field(default_factory=dict)
    # Moment account number -> target account number, for charts that differ.
    account_overrides: dict[str, str] = Field(default_factory=dict)
    # Bank account (11 digits) invoices are issued on; created in the target if missing.
    bank_account_number: str | None = Field(default=None, pattern=r"^\d{11}$")
    # None: ask the target system; False: not VAT-registered, every line becomes OUTSIDE.
    vat_registered: bool | None = None
    foreign_currency: ForeignCurrency = ForeignCurrency.TARGET_RATE

    @field_validator("vat_code_overrides", "account_overrides")
    @classmethod
    def _codes_are_digits(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.isdigit():
                raise ValueError(f"key {key!r} must be a numeric code")
        return value


DATA_TYPES = ("customer", "project", "invoice")


class TransferSettings(BaseModel):
    """Per-tenant choices of what is transferred (as Moment's own integrations offer): validated when an
    operator sets them (`tenants settings`), shown on the self-service page, applied by the processor."""

    model_config = ConfigDict(extra="forbid")

    # Which record types a webhook (or a backfill) transfers; one not chosen ends ``skipped``. A
    # customer or project an invoice needs is still transferred with it (the invoice cannot do without).
    data_types: list[str] = Field(default_factory=lambda: list(DATA_TYPES))
    # Invoices and credit notes dated before this day are never transferred.
    cutover_date: date | None = None
    # Only customers / projects in these Moment states are transferred on their own events; None: all.
    customer_states: list[str] | None = None
    project_states: list[str] | None = None

    @field_validator("data_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in DATA_TYPES]
        if unknown:
            raise ValueError(f"unknown data type(s) {unknown}: choose from {', '.join(DATA_TYPES)}")
        return [t for t in DATA_TYPES if t in value]  # canonical order, once each

    @field_validator("customer_states", "project_states")
    @classmethod
    def _states(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = sorted({v.strip() for v in value if v.strip()})
        if not cleaned:
            raise ValueError("give at least one state, or clear the filter")
        if any(not re.fullmatch(r"[A-Za-z_]{1,40}", v) for v in cleaned):
            raise ValueError("a state is a word such as active or inProgress")
        return cleaned


_ORGANIZATION_NUMBER_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)


def organization_number_problem(value: str) -> str | None:
    """Why ``value`` (spaces removed) is no Norwegian organisation number, or None.

    Brønnøysund's MOD11 check digit catches every single-digit typo and most swapped digits: a typo
    would bind the connect link to a number no company has, or to another company's.
    """
    if not re.fullmatch(r"[0-9]{9}", value):
        return "an organisation number is 9 digits (e.g. 912345688)"
    remainder = sum(int(d) * w for d, w in zip(value, _ORGANIZATION_NUMBER_WEIGHTS, strict=False)) % 11
    check = 0 if remainder == 0 else 11 - remainder
    if check == 10 or check != int(value[8]):
        return f"{value} fails the organisation number's check digit (MOD11): a typo?"
    return None


class Tenant(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    target: TargetSystem
    moment_company_code: str = Field(min_length=1, max_length=100)
    fiken_company_slug: str | None = None
    # The company's Norwegian organisation number: a connect link links only a Fiken company with it.
    # ASCII digits only: "\\d" also takes Arabic-Indic and fullwidth digits, which no Fiken number equals.
    organization_number: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    sparebank1_bank: str | None = None
    sparebank1_company_key: str | None = None
    status: TenantStatus = TenantStatus.ACTIVE
    status_reason: str | None = None
    # Connection problems that block part of the work (e.g. Fiken's project module missing).
    problems: dict[str, str] = Field(default_factory=dict)
    notification_emails: list[str] = Field(default_factory=list)
    mapping: MappingSettings = Field(default_factory=MappingSettings)
    transfer: TransferSettings = Field(default_factory=TransferSettings)
    webhook_secret_hash: str = Field(min_length=64, max_length=64, repr=False)
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            if not _EMAIL.match(email):
                raise ValueError(f"{email!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _target_settings(self) -> Tenant:
        if self.target is TargetSystem.SPAREBANK1 and self.mapping.invoice_mode is InvoiceMode.SALE:
            raise ValueError("invoice mode 'sale' exists only for Fiken")
        return self

    @property
    def accepts_webhooks(self) -> bool:
        return self.status is not TenantStatus.DISABLED

    @property
    def processing_enabled(self) -> bool:
        return self.status is TenantStatus.ACTIVE


class TenantNotFound(LookupError):
    pass


class TenantConflict(RuntimeError):
    """The tenant changed since it was read (or already exists on create)."""
