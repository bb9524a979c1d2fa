"""Operator changes to a tenant: pause, resume, disable, settings, its Moment API key. Each is audited.

Writes are compare-and-set on the tenant's ``version`` (the processor may flag the same tenant
meanwhile): a conflicting write is re-read and re-applied, a few times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from stdnum.no import kontonr

from momentsync.connectors.fiken.tokens import token_lease_name
from momentsync.connectors.fiken.vat import SALES_VAT_TYPES
from momentsync.credentials import CredentialsNotFound, TenantCredentials
from momentsync.ports import AuditLog, CredentialsStore, EventQueue, LeaseLock, ParkingLot, TenantRepository
from momentsync.tenants import (
    ForeignCurrency,
    InvoiceMode,
    MappingSettings,
    TargetSystem,
    Tenant,
    TenantConflict,
    TenantStatus,
    TransferSettings,
)

_ATTEMPTS = 3
# Norwegian standard chart of accounts (NS 4102): four digits; sub-accounts a few more.
_ACCOUNT_NUMBER = re.compile(r"^\d{4,8}$")
# A VAT code as an account carries it (SAF-T's standard codes are one or two digits, but a chart may
# carry its own, e.g. 9903) or as SpareBank 1 Regnskap numbers its VAT types.
_VAT_CODE = re.compile(r"^\d{1,6}$")


class TenantChangeRefused(ValueError):
    """The change is not valid for this tenant (bad settings, or not from its current state)."""


# The tenant's VAT registration as an operator sets it: "ask" leaves it to the target system.
VatRegistered = Literal["yes", "no", "ask"]


class SettingsChange(BaseModel):
    """What an operator asks to change; anything left at its default stays as it is."""

    model_config = ConfigDict(extra="forbid")

    notification_emails: list[str] | None = None  # replaces the list
    add_emails: list[str] = Field(default_factory=list)
    remove_emails: list[str] = Field(default_factory=list)
    invoice_mode: InvoiceMode | None = None
    vat_code_overrides: dict[str, str] = Field(default_factory=dict)
    unset_vat_codes: list[str] = Field(default_factory=list)
    account_overrides: dict[str, str] = Field(default_factory=dict)
    unset_accounts: list[str] = Field(default_factory=list)
    bank_account_number: str | None = None
    clear_bank_account_number: bool = False
    vat_registered: VatRegistered | None = None
    foreign_currency: ForeignCurrency | None = None
    # What is transferred (TransferSettings): None leaves a choice as it is.
    data_types: list[str] | None = None
    cutover_date: date | None = None
    clear_cutover_date: bool = False
    customer_states: list[str] | None = None
    clear_customer_states: bool = False
    project_states: list[str] | None = None
    clear_project_states: bool = False

    @model_validator(mode="after")
    def _one_intent_per_key(self) -> SettingsChange:
        """Setting and dropping the same key in one call is ambiguous: refused, never half applied."""
        clashes = [
            ("--vat-code", "--unset-vat-code", set(self.vat_code_overrides) & set(self.unset_vat_codes)),
            ("--account", "--unset-account", set(self.account_overrides) & set(self.unset_accounts)),
            ("--add-email", "--remove-email", set(self.add_emails) & set(self.remove_emails)),
        ]
        for set_option, unset_option, keys in clashes:
            if keys:
                raise ValueError(
                    f"{set_option} and {unset_option} both name {', '.join(sorted(keys))}: "
                    "give one of them per key"
                )
        if self.bank_account_number is not None and self.clear_bank_account_number:
            raise ValueError("--bank-account and --clear-bank-account in one call: give one of them")
        return self

    @property
    def is_empty(self) -> bool:
        return self == SettingsChange()

    def problems(self, target: TargetSystem) -> list[str]:
        """What the target system would refuse later (as a dead letter): caught while the operator is here."""
        found = []
        for code, vat_type in self.vat_code_overrides.items():
            if not _VAT_CODE.match(code):
                found.append(f"VAT code {code!r} is not a VAT code (digits, e.g. 3 or 31)")
            if target is TargetSystem.FIKEN and vat_type not in SALES_VAT_TYPES:
                found.append(
                    f"{vat_type!r} is not a Fiken sales vatType (one of {', '.join(sorted(SALES_VAT_TYPES))})"
                )
            if target is TargetSystem.SPAREBANK1 and not _VAT_CODE.match(vat_type):
                found.append(f"{vat_type!r} is not a SpareBank 1 Regnskap VAT code (digits, e.g. 3 or 31)")
        for moment_account, target_account in self.account_overrides.items():
            for number in (moment_account, target_account):
                if not _ACCOUNT_NUMBER.match(number):
                    found.append(f"account {number!r} is not an account number (4 to 8 digits, e.g. 3000)")
        if self.bank_account_number is not None and not kontonr.is_valid(self.bank_account_number):
            found.append(
                f"bank account {self.bank_account_number!r} is not a Norwegian account number "
                "(11 digits with a valid MOD11 check digit, e.g. 1234.56.78903)"
            )
        return found

    def apply(self, tenant: Tenant) -> Tenant:
        """The tenant with this change, validated by the ``Tenant`` and ``MappingSettings`` models."""
        problems = self.problems(tenant.target)
        if problems:
            raise TenantChangeRefused("; ".join(problems))
        mapping = tenant.mapping.model_dump(mode="json")
        if self.invoice_mode is not None:
            mapping["invoice_mode"] = self.invoice_mode.value
        mapping["vat_code_overrides"] = {
            k: v
            for k, v in {**mapping["vat_code_overrides"], **self.vat_code_overrides}.items()
            if k not in self.unset_vat_codes
        }
        mapping["account_overrides"] = {
            k: v
            for k, v in {**mapping["account_overrides"], **self.account_overrides}.items()
            if k not in self.unset_accounts
        }
        if self.clear_bank_account_number:
            mapping["bank_account_number"] = None
        elif self.bank_account_number is not None:
            mapping["bank_account_number"] = self.bank_account_number.replace(".", "").replace(" ", "")
        if self.foreign_currency is not None:
            mapping["foreign_currency"] = self.foreign_currency.value
        if self.vat_registered is not None:
            mapping["vat_registered"] = {"yes": True, "no": False, "ask": None}[self.vat_registered]
        emails = list(
            tenant.notification_emails if self.notification_emails is None else self.notification_emails
        )
        emails += [e for e in self.add_emails if e not in emails]
        emails = [e for e in emails if e not in self.remove_emails]
        transfer = tenant.transfer.model_dump(mode="json")
        if self.data_types is not None:
            transfer["data_types"] = self.data_types
        for name in ("cutover_date", "customer_states", "project_states"):
            if getattr(self, f"clear_{name}"):
                transfer[name] = None
            elif getattr(self, name) is not None:
                transfer[name] = getattr(self, name)
        try:
            return Tenant.model_validate(
                {
                    **tenant.model_dump(),
                    "mapping": MappingSettings.model_validate(mapping),
                    "transfer": TransferSettings.model_validate(transfer),
                    "notification_emails": emails,
                }
            )
        except ValidationError as exc:
            raise TenantChangeRefused(_readable(exc)) from exc


def _readable(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "settings"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


# Fiken's invoiceRequest has no `kid` (docs/reference/fiken.md §8): in invoice mode Fiken issues its own KID.
KID_NOTE_INVOICE_MODE = (
    "invoice mode: Fiken numbers the invoice and issues its own KID; Moment's KID goes only into the "
    "invoice text, so payments made with Moment's KID will not match automatically in Fiken. "
    "Use --invoice-mode sale if customers pay by Moment's KID (docs/fiken-kid.md)."
)


def settings_view(tenant: Tenant) -> dict[str, Any]:
    view = {
        "notification_emails": list(tenant.notification_emails),
        **tenant.mapping.model_dump(mode="json"),
        **tenant.transfer.model_dump(mode="json"),
    }
    if tenant.target is TargetSystem.FIKEN and tenant.mapping.invoice_mode is InvoiceMode.INVOICE:
        view["note"] = KID_NOTE_INVOICE_MODE
    return view


@dataclass
class TenantAdmin:
    tenants: TenantRepository
    audit: AuditLog
    actor: str
    parked: ParkingLot | None = None
    queue: EventQueue | None = None
    credentials: CredentialsStore | None = None
    # The per-tenant token lease every writer of the tenant's secret takes (refresh, connect, disconnect).
    leases: LeaseLock | None = None

    def pause(self, tenant_id: str, reason: str | None = None) -> Tenant:
        """Holds processing: webhooks are still queued, the processor parks them until resumed."""
        previous: dict[str, str] = {}

        def pause(tenant: Tenant) -> None:
            if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.PAUSED):
                raise TenantChangeRefused(
                    f"tenant is {tenant.status.value}; only an active tenant can be paused"
                )
            previous["status"] = tenant.status.value
            tenant.status = TenantStatus.PAUSED
            tenant.status_reason = reason or "paused by an operator"

        stored = self._update(tenant_id, pause)
        self._audit(
            "tenant.pause", tenant_id, {"reason": stored.status_reason, "previous_status": previous["status"]}
        )
        return stored

    def resume(self, tenant_id: str) -> tuple[Tenant, int]:
        """Active again (also re-enables a disabled tenant); re-enqueues its parked events in order."""
        assert self.parked is not None and self.queue is not None, (
            "resume needs the parked events and the queue"
        )
        previous: dict[str, Any] = {}

        def resume(tenant: Tenant) -> None:
            if tenant.status is TenantStatus.NEEDS_REAUTH:
                raise TenantChangeRefused(
                    "tenant needs re-authorisation: send a new `momentsync tenants connect-url` link; "
                    "connecting resumes it"
                )
            previous.update(status=tenant.status.value, problems=dict(tenant.problems))
            tenant.status = TenantStatus.ACTIVE
            tenant.status_reason = None
            # The operator says the cause is fixed; if not, the next event flags the tenant again.
            tenant.problems = {}

        stored = self._update(tenant_id, resume)
        # Only once active: an event resumed while still paused would simply park again.
        resumed = self.parked.resume(tenant_id, self.queue)
        self._audit(
            "tenant.resume",
            tenant_id,
            {
                "previous_status": previous["status"],
                "cleared_problems": previous["problems"],
                "resumed": resumed,
            },
        )
        return stored, resumed

    def disable(self, tenant_id: str, reason: str | None = None) -> Tenant:
        """Webhooks are refused (410) from now on; parked events stay parked."""
        previous: dict[str, str] = {}

        def disable(tenant: Tenant) -> None:
            previous["status"] = tenant.status.value
            tenant.status = TenantStatus.DISABLED
            tenant.status_reason = reason or "disabled by an operator"

        stored = self._update(tenant_id, disable)
        self._audit(
            "tenant.disable",
            tenant_id,
            {"reason": stored.status_reason, "previous_status": previous["status"]},
        )
        return stored

    def change_settings(self, tenant_id: str, change: SettingsChange) -> tuple[Tenant, dict[str, Any]]:
        """Applies ``change``; returns the stored tenant and what changed (before -> after)."""
        if change.is_empty:
            raise TenantChangeRefused("nothing to change")
        before: dict[str, Any] = {}

        def apply(tenant: Tenant) -> Tenant:
            before.clear()
            before.update(settings_view(tenant))
            return change.apply(tenant)

        stored = self._update(tenant_id, apply)
        after = settings_view(stored)
        changed = {
            key: {"from": before[key], "to": after[key]} for key in after if before.get(key) != after[key]
        }
        self._audit("tenant.settings", tenant_id, {"changed": changed})
        return stored, changed

    def store_moment_api_key(self, tenant_id: str, api_key: str) -> None:
        """Sets (or rotates) the tenant's Moment API key, keeping its other credentials."""
        assert self.credentials is not None, "storing a key needs the credentials store"
        if not api_key.strip():
            raise TenantChangeRefused("the Moment API key is empty")
        self.tenants.require(tenant_id)
        # Read-modify-write of the whole secret: under the token lease, or a processor's refresh (its
        # rotated, single-use refresh token) or a connect's waiting grant written meanwhile is lost.
        with self.leases.hold(token_lease_name(tenant_id)) if self.leases else nullcontext():
            try:
                current = self.credentials.get(tenant_id, fresh=True)
            except CredentialsNotFound:
                current = TenantCredentials()
            replaced = current.moment_api_key is not None
            self.credentials.put(
                tenant_id, current.model_copy(update={"moment_api_key": SecretStr(api_key.strip())})
            )
        self._audit("tenant.moment_api_key", tenant_id, {"rotated" if replaced else "set": True})

    # ------------------------------------------------------------------ internals
    def _update(self, tenant_id: str, change: Callable[[Tenant], Tenant | None]) -> Tenant:
        for attempt in range(_ATTEMPTS):
            tenant = self.tenants.require(tenant_id)
            changed = change(tenant) or tenant
            try:
                return self.tenants.save(changed)
            except TenantConflict:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _audit(self, action: str, tenant_id: str, details: dict[str, Any]) -> None:
        self.audit.record(actor=self.actor, action=action, tenant_id=tenant_id, details=details)
