"""Attack on issue 18 (memoised data going stale in a warm processor): the Fiken connector keeps a
tenant's company facts (the bank account code invoices are issued on, VAT registration) for the life of
the execution environment. An operator's `tenants settings --bank-account` must take effect for the next
invoice, not after the container is recycled hours later."""

from __future__ import annotations

from emulators.fiken.emulator import BankAccountSeed
from momentsync.sync.transfer_log import Outcome
from tests.integration.test_sync_invoices import finalize

OLD, NEW = "12345678903", "15038812340"


def test_a_changed_bank_account_setting_is_used_by_the_next_invoice(make_pipeline):
    pipeline = make_pipeline(
        bank_accounts=[
            BankAccountSeed(name="Drift", number=OLD),
            BankAccountSeed(name="Ny drift", number=NEW),
        ]
    )
    mapping = pipeline.tenant().mapping
    pipeline.update_tenant(mapping=mapping.model_copy(update={"bank_account_number": OLD}))
    first = finalize(pipeline)
    pipeline.settle()
    assert pipeline.last("invoice", first.id).outcome is Outcome.SYNCED

    # The operator moves the tenant's invoices to another bank account.
    pipeline.update_tenant(mapping=mapping.model_copy(update={"bank_account_number": NEW}))
    second = finalize(pipeline)
    pipeline.settle()
    assert pipeline.last("invoice", second.id).outcome is Outcome.SYNCED

    issued_on = [i["bankAccountNumber"] for i in sorted(pipeline.invoices(), key=lambda i: i["invoiceId"])]
    assert issued_on == [OLD, NEW]
