"""What Moment does in a chaos run: seeded changes to one tenant's records, each with its webhook(s).

A ``TenantScript`` changes records in the Moment emulator and returns the webhook notices to send
for that step, in the order to send them. Besides plain creates and updates it produces the webhook
troubles of the fault matrix (docs/reference/anchors.md §4.4): the same notice twice (duplicate), an old
notice re-sent after newer changes (late), and a dependent record's notice before the one it depends on
(reordered). Every notice sent is one event; the script stops at ``events`` notices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from emulators.moment.emulator import MomentEmulator
from emulators.moment.fixtures import make_line
from emulators.moment.webhook_driver import customer_webhook, invoice_webhook, project_webhook
from momentsync.moment.models import Customer, Invoice, InvoiceLine, Project, WebhookEvent

# Accounts with a VAT code every tenant maps; 3100 is VAT-exempt, the rest 25 / 15 / 12 %.
INVOICE_ACCOUNTS = ("3000", "3020", "3030", "3050", "3100")
FIRST_DAY = date(2026, 1, 5)

# Poison: an invoice line on an account whose VAT code no mapping knows (fixed by an operator's
# VAT-code override, then replayed), or with no VAT code at all (fixed in Moment, then replayed).
UNKNOWN_VAT_CODE = "9903"
UNKNOWN_VAT_CODE_MEANS = "HIGH"


@dataclass
class Notice:
    kind: str  # customer | project | invoice
    record_id: int
    payload: dict[str, Any]
    trouble: str | None = None  # duplicate | late | reordered


@dataclass
class TenantScript:
    moment: MomentEmulator
    company: str
    seed: int
    events: int
    sent: int = 0
    customers: list[Customer] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)  # not credited, not a credit note
    history: list[Notice] = field(default_factory=list)
    _day: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    @property
    def done(self) -> bool:
        return self.sent >= self.events

    # ------------------------------------------------------------------ one step
    def step(self) -> list[Notice]:
        """One change in Moment and the notices to send for it (never more than what is left)."""
        left = self.events - self.sent
        choices = self._choices(left)
        action = self.random.choices([c[0] for c in choices], [c[1] for c in choices])[0]
        notices = action()[:left]
        self.sent += len(notices)
        self.history.extend(notices)
        return notices

    def _choices(self, left: int) -> list[tuple[Any, float]]:
        if not self.customers:
            return [(self.new_customer, 1)]
        choices: list[tuple[Any, float]] = [
            (self.new_customer, 2),
            (self.update_customer, 3),
            (self.new_project, 2),
            (self.update_project, 2),
            (self.new_invoice, 3),
        ]
        if self.invoices:
            choices += [(self.change_due_date, 1), (self.credit_invoice, 1)]
        if self.history:
            choices += [(self.duplicate, 1), (self.late, 1)]
        if left >= 2:
            choices.append((self.reordered, 1))
        return choices

    # ------------------------------------------------------------------ customers and projects
    def new_customer(self) -> list[Notice]:
        customer = self._create_customer()
        return [self._notice(customer, WebhookEvent.CREATE_NEW)]

    def _create_customer(self) -> Customer:
        n = len(self.customers) + 1
        customer = self.moment.create_customer(
            self.company,
            name=f"Kunde {n} {self.company} AS",
            organization_number=f"9{self.random.randrange(10**7, 10**8)}",
            email=f"post{n}@kunde{n}.example",
            street=f"Storgata {self.random.randrange(1, 200)}",
            post_code=f"{self.random.randrange(1000, 9999)}",
            city=self.random.choice(["Oslo", "Bergen", "Trondheim", "Tromsø", "Ålesund"]),
            country_code="NO",
        )
        self.customers.append(customer)
        return customer

    def update_customer(self) -> list[Notice]:
        customer = self.random.choice(self.customers)
        change = self.random.choice(["name", "email", "street"])
        tag = self.random.randrange(10**6)
        value = {
            "name": f"{customer.name.split(' (')[0]} ({tag})",
            "email": f"faktura{tag}@kunde.example",
            "street": f"Kaigata {tag % 300}",
        }[change]
        updated = self.moment.update_customer(self.company, customer.id, **{change: value})
        self._replace(self.customers, updated)
        return [self._notice(updated, WebhookEvent.UPDATE)]

    def new_project(self) -> list[Notice]:
        project = self._create_project(self.random.choice(self.customers))
        return [self._notice(project, WebhookEvent.CREATE_NEW)]

    def _create_project(self, customer: Customer) -> Project:
        # One in five starts without a start date: Fiken needs one, so it waits for the update.
        start = None if self.random.random() < 0.2 else FIRST_DAY + timedelta(days=self.random.randrange(60))
        project = self.moment.create_project(
            self.company,
            name=f"Prosjekt {len(self.projects) + 1}",
            customer=customer.id,
            start_date=start,
        )
        self.projects.append(project)
        return project

    def update_project(self) -> list[Notice]:
        if not self.projects:
            return self.new_project()
        project = self.random.choice(self.projects)
        if project.start_date is None:
            changes: dict[str, Any] = {"start_date": FIRST_DAY + timedelta(days=self.random.randrange(60))}
        else:
            changes = {"name": f"{project.name.split(' (')[0]} ({self.random.randrange(10**6)})"}
        updated = self.moment.update_project(self.company, project.id, **changes)
        self._replace(self.projects, updated)
        return [self._notice(updated, WebhookEvent.UPDATE)]

    # ------------------------------------------------------------------ invoices
    def new_invoice(self, lines: list[InvoiceLine] | None = None) -> list[Notice]:
        customer = self.random.choice(self.customers)
        theirs = [p for p in self.projects if p.customer and p.customer.id == customer.id and p.start_date]
        project = self.random.choice(theirs) if theirs and self.random.random() < 0.5 else None
        self._day += 1
        invoice = self.moment.create_invoice(
            self.company,
            customer=customer.id,
            project=project.id if project else None,
            invoice_date=FIRST_DAY + timedelta(days=self._day % 300),
            lines=lines or self._lines(),
        )
        self.invoices.append(invoice)
        return [self._notice(invoice, WebhookEvent.CREATE_NEW)]

    def _lines(self) -> list[InvoiceLine]:
        lines = []
        for index in range(self.random.randint(1, 4)):
            quantity = Decimal(self.random.randrange(1, 400)) / Decimal(4 if index % 2 else 1)
            price = Decimal(self.random.randrange(5_000, 250_000)) / 100
            lines.append(
                make_line(
                    self.random.choice(INVOICE_ACCOUNTS),
                    quantity,
                    price,
                    description=f"Linje {index + 1}",
                    discount_percent=self.random.choice([0, 0, 0, 5, 10, 12.5]),
                )
            )
        return lines

    def change_due_date(self) -> list[Notice]:
        invoice = self.random.choice(self.invoices)
        due = (invoice.due_date or FIRST_DAY) + timedelta(days=self.random.randrange(1, 30))
        updated = self.moment.update_invoice(self.company, invoice.id, due_date=due)
        self._replace(self.invoices, updated)
        return [self._notice(updated, WebhookEvent.UPDATE)]

    def credit_invoice(self) -> list[Notice]:
        original = self.random.choice(self.invoices)
        self.invoices.remove(original)
        credit = self.moment.credit_invoice(self.company, original.id)
        return [self._notice(credit, WebhookEvent.CREATE_NEW)]

    # ------------------------------------------------------------------ webhook troubles
    def duplicate(self) -> list[Notice]:
        last = self.history[-1]
        return [Notice(last.kind, last.record_id, last.payload, "duplicate")]

    def late(self) -> list[Notice]:
        old = self.random.choice(self.history)
        return [Notice(old.kind, old.record_id, old.payload, "late")]

    def reordered(self) -> list[Notice]:
        """A new customer and its first project; the project's notice arrives first."""
        customer = self._create_customer()
        project = self._create_project(customer)
        first = self._notice(project, WebhookEvent.CREATE_NEW)
        first.trouble = "reordered"
        return [first, self._notice(customer, WebhookEvent.CREATE_NEW)]

    # ------------------------------------------------------------------ poison
    def poison_invoice(self, variant: str) -> tuple[Invoice, list[Notice]]:
        """An invoice no sync can book until someone fixes it (``unknown_vat_code`` / ``no_vat_code``)."""
        if variant == "unknown_vat_code":
            line = make_line("3000", 3, 990, description="Rådgivning")
            account = line.financial_account.model_copy(update={"external_tax_code": UNKNOWN_VAT_CODE})
            line = line.model_copy(update={"financial_account": account})
        else:
            # No code on the line, and none on the account in Moment's list either (a code missing from
            # the line alone is taken from the list: that is no poison).
            line = make_line("3600", 3, 990, description="Husleie")
        notices = self.new_invoice([line])
        # Kept out of the later changes (a credit note would copy the bad line): one poison, one fix.
        poison = self.invoices.pop()
        self.sent += len(notices)
        self.history.extend(notices)
        return poison, notices

    def fix_invoice_lines(self, invoice: Invoice) -> list[Notice]:
        """The fix made in Moment: the line moved to an account with a VAT code (a newer event)."""
        lines = [make_line("3000", 3, 990, description="Rådgivning")]
        updated = self.moment.update_invoice(self.company, invoice.id, lines=lines)
        notices = [self._notice(updated, WebhookEvent.UPDATE)]
        self.sent += len(notices)
        self.history.extend(notices)
        return notices

    # ------------------------------------------------------------------ helpers
    def _notice(self, record: Customer | Project | Invoice, event: str) -> Notice:
        if isinstance(record, Customer):
            return Notice("customer", record.id, customer_webhook(record, event))
        if isinstance(record, Project):
            return Notice("project", record.id, project_webhook(record, event))
        return Notice("invoice", record.id, invoice_webhook(record, event))

    @staticmethod
    def _replace(records: list[Any], updated: Any) -> None:
        for index, record in enumerate(records):
            if record.id == updated.id:
                records[index] = updated
                return
