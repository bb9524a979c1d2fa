"""What the Fiken emulator remembers: companies and, per company, the records the API created.

Records are kept as dicts shaped like the spec's result schemas (what GET returns), plus
``hidden`` fields the spec marks ``writeOnly`` (stored and filterable, never returned: e.g. a
contact's ``memberNumberString``). Ids come from one emulator-wide counter so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# A realistic subset of the Norwegian standard chart (NS 4102) the connector may touch.
CHART_OF_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("1500", "Kundefordringer"),
    ("1920", "Bankinnskudd"),
    ("2400", "Leverandørgjeld"),
    ("2700", "Utgående merverdiavgift, høy sats"),
    ("2701", "Utgående merverdiavgift, middels sats"),
    ("2702", "Utgående merverdiavgift, lav sats"),
    ("3000", "Salgsinntekt, avgiftspliktig"),
    ("3020", "Salgsinntekt, avgiftspliktig, tjenester"),
    ("3030", "Salgsinntekt, avgiftspliktig, middels sats"),
    ("3050", "Salgsinntekt, avgiftspliktig, lav sats"),
    ("3100", "Salgsinntekt, avgiftsfri"),
    ("3200", "Salgsinntekt, utenfor avgiftsområdet"),
    ("3210", "Salgsinntekt, utenfor avgiftsområdet, tjenester"),
    ("3220", "Salgsinntekt, ikke avgiftspliktig"),
    ("3600", "Leieinntekt fast eiendom"),
    ("4000", "Innkjøp av råvarer og halvfabrikata"),
    ("6300", "Leie lokale"),
    ("6800", "Kontorrekvisita"),
    ("7740", "Øreavrunding"),
    ("7770", "Bank- og kortgebyrer"),
    ("8050", "Annen renteinntekt"),
)


@dataclass
class BankAccount:
    bank_account_id: int
    name: str
    bank_account_number: str
    account_code: str
    type: str = "normal"
    verified: bool = False
    inactive: bool = False
    bic: str | None = None
    iban: str | None = None
    foreign_service: str | None = None

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bankAccountId": self.bank_account_id,
            "name": self.name,
            "accountCode": self.account_code,
            "bankAccountNumber": self.bank_account_number,
            "type": self.type,
            "inactive": self.inactive,
        }
        for key, value in (("bic", self.bic), ("iban", self.iban), ("foreignService", self.foreign_service)):
            if value is not None:
                out[key] = value
        return out


@dataclass
class Company:
    slug: str
    name: str
    organization_number: str = "999999999"
    vat_registered: bool = True
    has_project_module: bool = True
    has_api_access: bool = True
    test_company: bool = True
    # Last number used; None = not initialised (POST /invoices answers 400 until it is).
    invoice_counter: int | None = 10000
    credit_note_counter: int | None = 10000
    created_date: str = "2024-01-01"
    bank_accounts: list[BankAccount] = field(default_factory=list)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    contact_hidden: dict[int, dict[str, Any]] = field(default_factory=dict)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    project_contacts: dict[int, int] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[int, dict[str, Any]] = field(default_factory=dict)
    sales: dict[int, dict[str, Any]] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    next_customer_number: int = 10001
    next_supplier_number: int = 20001
    next_bank_ledger: int = 10001

    @property
    def vat_type(self) -> str:
        return "monthly" if self.vat_registered else "no"

    def result(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "slug": self.slug,
            "organizationNumber": self.organization_number,
            "vatType": self.vat_type,
            "hasApiAccess": self.has_api_access,
            "testCompany": self.test_company,
            "creationDate": self.created_date,
            "accountingStartDate": self.created_date,
        }

    def bank_account_by_code(self, code: str) -> BankAccount | None:
        return next((account for account in self.bank_accounts if account.account_code == code), None)

    def accounts(self) -> list[dict[str, str]]:
        """The chart plus the sub-ledger ("reskontro") accounts of bank accounts and customers."""
        accounts = [{"code": code, "name": name} for code, name in CHART_OF_ACCOUNTS]
        accounts += [{"code": bank.account_code, "name": bank.name} for bank in self.bank_accounts]
        accounts += [
            {"code": contact["customerAccountCode"], "name": contact["name"]}
            for contact in self.contacts.values()
            if "customerAccountCode" in contact
        ]
        return sorted(accounts, key=lambda account: account["code"])

    def records(self) -> dict[str, Any]:
        return {
            "company": self.result(),
            "invoiceCounter": self.invoice_counter,
            "creditNoteCounter": self.credit_note_counter,
            "bankAccounts": [{**bank.result(), "verified": bank.verified} for bank in self.bank_accounts],
            "contacts": [{**c, "hidden": self.contact_hidden.get(i, {})} for i, c in self.contacts.items()],
            "projects": list(self.projects.values()),
            "invoices": list(self.invoices.values()),
            "creditNotes": list(self.credit_notes.values()),
            "sales": list(self.sales.values()),
            "attachments": [{k: v for k, v in a.items() if k != "content"} for a in self.attachments],
        }
