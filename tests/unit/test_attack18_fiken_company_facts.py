"""Attack on issue 18 (memoised data going stale in a warm processor): the Fiken connector's per-process
company facts (VAT registration, the bank account code invoices go on) must follow the tenant to another
Fiken company after a reconnect, and follow the tenant's bank account setting."""

from __future__ import annotations

import uuid

from momentsync.connectors.fiken.connector import FikenConnector
from momentsync.connectors.fiken.models import BankAccountResult, Company
from tests.fakes.records import tenant


class CompanyClient:
    """What the facts read of Fiken, for one company; counts the reads."""

    def __init__(self, slug: str, vat_type: str, accounts: list[tuple[str, str]]) -> None:
        self.company_slug = slug
        self.vat_type = vat_type
        self.accounts = accounts
        self.reads = 0

    def get_company(self) -> Company:
        self.reads += 1
        return Company(slug=self.company_slug, vat_type=self.vat_type)

    def list_bank_accounts(self) -> list[BankAccountResult]:
        self.reads += 1
        return [
            BankAccountResult(bank_account_id=n, account_code=code, bank_account_number=number, type="normal")
            for n, (code, number) in enumerate(self.accounts)
        ]


def test_a_tenant_moved_to_another_fiken_company_gets_that_companys_facts():
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"  # the facts live per process: a tenant of this test only
    old = CompanyClient("gammel-as", "high", [("1920:10001", "12345678903")])
    new = CompanyClient("ny-as", "no", [("1920:10002", "15038812340")])
    first = FikenConnector(tenant(tenant_id, fiken_company_slug="gammel-as"), old)  # type: ignore[arg-type]
    assert first._vat_registered() is True
    assert first._bank_account_code() == "1920:10001"

    # Reconnected to another company (the connect flow's company choice), same warm process.
    moved = FikenConnector(tenant(tenant_id, fiken_company_slug="ny-as"), new)  # type: ignore[arg-type]
    assert moved._vat_registered() is False
    assert moved._bank_account_code() == "1920:10002"


def test_the_facts_are_still_read_once_per_company():
    tenant_id = f"t-{uuid.uuid4().hex[:8]}"
    client = CompanyClient("acme-as", "high", [("1920:10001", "12345678903")])
    for _ in range(3):
        connector = FikenConnector(tenant(tenant_id), client)  # type: ignore[arg-type]
        connector._vat_registered()
        connector._bank_account_code()
    assert client.reads == 2
