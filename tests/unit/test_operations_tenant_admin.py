"""Tenant changes validated by the Tenant and MappingSettings models, and state transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from momentsync.operations.tenant_admin import SettingsChange, TenantAdmin, TenantChangeRefused
from momentsync.tenants import (
    ForeignCurrency,
    InvoiceMode,
    MappingSettings,
    TargetSystem,
    Tenant,
    TenantNotFound,
    TenantStatus,
)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def tenant(target=TargetSystem.FIKEN, status=TenantStatus.ACTIVE) -> Tenant:
    return Tenant(
        tenant_id="acme",
        name="Acme",
        target=target,
        moment_company_code="acme",
        status=status,
        notification_emails=["a@acme.example", "b@acme.example"],
        mapping=MappingSettings(vat_code_overrides={"3": "HIGH", "31": "MEDIUM"}),
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
    )


class Tenants:
    def __init__(self, item: Tenant):
        self.item = item

    def require(self, tenant_id):
        if tenant_id != self.item.tenant_id:
            raise TenantNotFound(tenant_id)
        return self.item.model_copy(deep=True)

    def save(self, changed):
        self.item = changed.model_copy(update={"version": changed.version + 1})
        return self.item


class Audit:
    def __init__(self):
        self.records = []

    def record(self, **kwargs):
        self.records.append(kwargs)


def test_settings_change_merges_and_removes():
    changed = SettingsChange(
        remove_emails=["a@acme.example"],
        add_emails=["c@acme.example"],
        unset_vat_codes=["31"],
        vat_code_overrides={"5": "LOW"},
        invoice_mode=InvoiceMode.SALE,
        vat_registered="no",
        foreign_currency=ForeignCurrency.REFUSE,
    ).apply(tenant())
    assert changed.notification_emails == ["b@acme.example", "c@acme.example"]
    assert changed.mapping.vat_code_overrides == {"3": "HIGH", "5": "LOW"}
    assert changed.mapping.invoice_mode is InvoiceMode.SALE and changed.mapping.vat_registered is False
    assert changed.mapping.foreign_currency is ForeignCurrency.REFUSE


@pytest.mark.parametrize(
    "change",
    [
        SettingsChange(invoice_mode=InvoiceMode.SALE),  # for SpareBank 1 below: a Fiken-only mode
        SettingsChange(bank_account_number="1234"),
        SettingsChange(vat_code_overrides={"HIGH": "3"}),
        SettingsChange(add_emails=["not an address"]),
    ],
)
def test_invalid_settings_are_refused_with_a_readable_reason(change):
    with pytest.raises(TenantChangeRefused) as refused:
        change.apply(tenant(target=TargetSystem.SPAREBANK1))
    assert str(refused.value)


def test_changes_are_audited_with_before_and_after():
    repo, audit = Tenants(tenant()), Audit()
    admin = TenantAdmin(tenants=repo, audit=audit, actor="arn:aws:iam::1:user/ops")  # type: ignore[arg-type]
    _, changed = admin.change_settings("acme", SettingsChange(bank_account_number="1234.56.78903"))
    assert changed == {"bank_account_number": {"from": None, "to": "12345678903"}}
    [record] = audit.records
    assert (record["action"], record["tenant_id"], record["actor"]) == (
        "tenant.settings",
        "acme",
        "arn:aws:iam::1:user/ops",
    )
    with pytest.raises(TenantChangeRefused):
        admin.change_settings("acme", SettingsChange())


def test_resume_refuses_a_tenant_that_needs_reauthorisation():
    admin = TenantAdmin(
        tenants=Tenants(tenant(status=TenantStatus.NEEDS_REAUTH)),  # type: ignore[arg-type]
        audit=Audit(),
        actor="me",
        parked=object(),  # type: ignore[arg-type]
        queue=object(),  # type: ignore[arg-type]
    )
    with pytest.raises(TenantChangeRefused, match="connect-url"):
        admin.resume("acme")


def test_pause_only_from_active():
    admin = TenantAdmin(tenants=Tenants(tenant(status=TenantStatus.DISABLED)), audit=Audit(), actor="me")  # type: ignore[arg-type]
    with pytest.raises(TenantChangeRefused):
        admin.pause("acme")


def test_settings_show_the_kid_limitation_of_fiken_invoice_mode_only():
    from momentsync.operations.tenant_admin import settings_view

    invoice_mode = settings_view(tenant())
    assert (
        "will not match automatically" in invoice_mode["note"]
        and "--invoice-mode sale" in invoice_mode["note"]
    )
    sale = tenant()
    sale.mapping = MappingSettings(invoice_mode=InvoiceMode.SALE)
    assert "note" not in settings_view(sale)
    assert "note" not in settings_view(tenant(target=TargetSystem.SPAREBANK1))
