"""Realistic Norwegian Moment records, built deterministically from a seed (tests, demos, the emulator).

``build_dataset(seed)`` gives customers (numbers from ``10001``, valid MOD11 organisation numbers,
addresses in Oslo and Bergen), projects (some without a start date, some completed) and finalized
invoices whose lines use several sales accounts and so several SAF-T VAT codes (3 = 25 %,
31 = 15 %, 33 = 12 %, 5 = zero-rated, 6 = outside the VAT act). ``edge_cases=True`` adds a credit
note, a draft, a "do not transfer" invoice, a EUR invoice, an øreavrunding line (account 7740, no
VAT code) and an inactive customer. The same seed always gives the same records, ids included.

The records are ``momentsync.moment.models`` instances, so they carry Moment's (guessed) field
names exactly as the client reads them. Amounts are ``Decimal`` with two decimals; line amounts
and VAT are rounded per line, half up, and totals are the sums of the rounded lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from momentsync.moment.models import (
    Customer,
    CustomerRef,
    ExportStatus,
    FinancialAccountRef,
    Invoice,
    InvoiceLine,
    InvoiceRef,
    InvoiceState,
    ProductType,
    Project,
    ProjectRef,
)

CENT = Decimal("0.01")
DEFAULT_START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SalesAccount:
    number: str
    name: str
    saf_t_code: str | None
    vat_percent: Decimal

    @property
    def id(self) -> int:
        # A stable id per account, as Moment's financialAccounts list carries one.
        return 9_000_000 + int(self.number)

    def ref(self) -> FinancialAccountRef:
        return FinancialAccountRef(
            id=self.id,
            account_number=self.number,
            external_tax_code=self.saf_t_code,
            name=self.name,
            current_vat_percentage=self.vat_percent,
        )


# Sales accounts (NS 4102) with the SAF-T code a Moment admin would set on them.
ACCOUNTS: dict[str, SalesAccount] = {
    a.number: a
    for a in (
        SalesAccount("3000", "Salgsinntekt, avgiftspliktig", "3", Decimal(25)),
        SalesAccount("3020", "Salgsinntekt, avgiftspliktig, tjenester", "3", Decimal(25)),
        SalesAccount("3030", "Salgsinntekt, avgiftspliktig, middels sats", "31", Decimal(15)),
        SalesAccount("3050", "Salgsinntekt, avgiftspliktig, lav sats", "33", Decimal(12)),
        SalesAccount("3100", "Salgsinntekt, avgiftsfri", "5", Decimal(0)),
        SalesAccount("3200", "Salgsinntekt, utenfor avgiftsområdet", "6", Decimal(0)),
        SalesAccount("7740", "Øreavrunding", None, Decimal(0)),
        # One whose SAF-T code nobody has set: its lines cannot be booked until someone does.
        SalesAccount("3600", "Leieinntekt fast eiendom", None, Decimal(0)),
    )
}

_COMPANY_NAMES = (
    "Fjordlys Rådgivning AS",
    "Bryggen Bygg AS",
    "Nordlys Design AS",
    "Vestland Eiendom AS",
    "Akerselva Kaffebrenneri AS",
    "Fløyen Friluft AS",
    "Grünerløkka Grafisk AS",
    "Sandviken Sjømat AS",
    "Majorstuen Medisinsk AS",
    "Nygårdshøyden Næring AS",
    "Bjørvika Teknologi AS",
    "Fana Flyt og Logistikk AS",
)
_STREETS = {
    "Oslo": (
        ("Karl Johans gate", "0154"),
        ("Storgata", "0155"),
        ("Thorvald Meyers gate", "0552"),
        ("Bogstadveien", "0355"),
        ("Dronning Eufemias gate", "0191"),
        ("Kirkeveien", "0368"),
    ),
    "Bergen": (
        ("Strandkaien", "5013"),
        ("Torgallmenningen", "5014"),
        ("Bryggen", "5003"),
        ("Kong Oscars gate", "5017"),
        ("Nygårdsgaten", "5015"),
        ("Sandviksveien", "5035"),
    ),
}
_PHONE_PREFIX = {"Oslo": "22", "Bergen": "55"}
_CONTACTS = ("Kari Nordmann", "Ola Hansen", "Ingrid Berg", "Lars Johansen", "Sigrid Olsen", "Per Haugen")
_PROJECT_NAMES = (
    "Ny nettside",
    "Rammeavtale drift",
    "Kontorflytting",
    "Merkevareløft",
    "Systemintegrasjon",
    "Årsoppgjør",
    "Strategiprosjekt",
    "Bærekraftsrapport",
)


# --- small pure helpers ------------------------------------------------------------------------


def organization_number(rng: random.Random) -> str:
    """A 9-digit Norwegian organisation number with a valid MOD11 check digit."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    while True:
        digits = [rng.choice((8, 9))] + [rng.randrange(10) for _ in range(7)]
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        check = 0 if remainder == 0 else 11 - remainder
        if check != 10:  # such numbers are never issued
            return "".join(map(str, digits)) + str(check)


def kid_mod10(base: str) -> str:
    """``base`` plus its MOD10 (Luhn) check digit: the only KID form Moment supports."""
    total = 0
    for index, char in enumerate(reversed(base)):
        digit = int(char) * (2 if index % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return base + str((10 - total % 10) % 10)


def make_line(
    account: str,
    quantity: Decimal | int | str,
    unit_price: Decimal | int | str,
    *,
    description: str,
    discount_percent: Decimal | int | str = 0,
    product_type: ProductType | None = ProductType.HOURS,
) -> InvoiceLine:
    """An invoice line whose amount and VAT are computed as Moment would (per line, half up)."""
    sales = ACCOUNTS[account]
    qty, price, discount = Decimal(quantity), Decimal(unit_price), Decimal(discount_percent)
    amount = (qty * price * (100 - discount) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    vat = (amount * sales.vat_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return InvoiceLine(
        description=description,
        financial_account=sales.ref(),
        quantity=qty,
        unit_price=price,
        discount_percent=discount,
        amount_excl_vat=amount,
        vat_amount=vat,
        vat_percent=sales.vat_percent,
        product_type=product_type.value if product_type else None,
    )


def with_totals(invoice: Invoice) -> Invoice:
    """The invoice with its three totals set to the sums of its lines."""
    net = sum((line.amount_excl_vat for line in invoice.lines), Decimal(0))
    vat = sum((line.vat_amount for line in invoice.lines), Decimal(0))
    return invoice.model_copy(update={"total_excl_vat": net, "total_vat": vat, "total_incl_vat": net + vat})


def customer_ref(customer: Customer) -> CustomerRef:
    return CustomerRef(id=customer.id, customer_number=customer.customer_number, name=customer.name)


def project_ref(project: Project) -> ProjectRef:
    return ProjectRef(id=project.id, project_number=project.project_number, name=project.name)


def credit_note_for(
    original: Invoice, *, credit_id: int, credit_number: int, credit_date: date, modified: datetime
) -> Invoice:
    """A full credit note: the original's lines negated, linked to it (as Moment's cogwheel does)."""
    lines = [
        line.model_copy(
            update={
                "quantity": -line.quantity,
                "amount_excl_vat": -line.amount_excl_vat,
                "vat_amount": -line.vat_amount,
            }
        )
        for line in original.lines
    ]
    return with_totals(
        original.model_copy(
            update={
                "id": credit_id,
                "invoice_number": credit_number,
                "description": f"Kreditnota for faktura {original.invoice_number}",
                "invoice_date": credit_date,
                "due_date": credit_date,
                "payment_id": None,
                "credit_note": True,
                "credited_invoice": InvoiceRef(id=original.id, invoice_number=original.invoice_number),
                "export_status": ExportStatus.TO_TRANSFER.value,
                "invoice_state": InvoiceState.FINALIZED.value,
                "lines": lines,
                "last_modified": modified,
            }
        )
    )


# --- the dataset -------------------------------------------------------------------------------


@dataclass
class MomentDataset:
    seed: int
    customers: list[Customer] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)

    def records(self) -> Iterable[Customer | Project | Invoice]:
        yield from self.customers
        yield from self.projects
        yield from self.invoices

    def customer(self, customer_id: int) -> Customer:
        return next(c for c in self.customers if c.id == customer_id)

    def project(self, project_id: int) -> Project:
        return next(p for p in self.projects if p.id == project_id)

    def invoice(self, invoice_id: int) -> Invoice:
        return next(i for i in self.invoices if i.id == invoice_id)


class _Builder:
    def __init__(self, seed: int, first_id: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.next_id = first_id
        self.clock = start

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=1)
        return self.clock


def build_dataset(
    seed: int = 0,
    *,
    customers: int = 6,
    projects_per_customer: int = 2,
    invoices: int = 10,
    edge_cases: bool = False,
    first_id: int | None = None,
    first_customer_number: int = 10001,
    first_invoice_number: int = 1,
    start: datetime = DEFAULT_START,
) -> MomentDataset:
    """A deterministic company's worth of records (see the module docstring)."""
    b = _Builder(seed, first_id if first_id is not None else 60_000_000 + (seed % 10_000) * 10_000, start)
    data = MomentDataset(seed=seed)
    names = list(_COMPANY_NAMES)
    b.rng.shuffle(names)

    for index in range(customers):
        city = "Oslo" if index % 2 == 0 else "Bergen"
        street, post_code = b.rng.choice(_STREETS[city])
        name = names[index % len(names)] + ("" if index < len(names) else f" {index // len(names) + 1}")
        slug = "".join(ch for ch in name.lower().split(" as")[0] if ch.isalnum())[:24] or "kunde"
        inactive = edge_cases and index == customers - 1 and customers > 1
        data.customers.append(
            Customer(
                id=b.new_id(),
                customer_number=str(first_customer_number + index),
                name=name,
                organization_number=organization_number(b.rng),
                email=f"post@{slug}.no",
                invoice_email=f"faktura@{slug}.no",
                phone=f"+47 {_PHONE_PREFIX[city]} {b.rng.randrange(10, 99)} {b.rng.randrange(10, 99)} "
                f"{b.rng.randrange(10, 99)}",
                fax=None,
                website=f"https://www.{slug}.no",
                street=f"{street} {b.rng.randrange(1, 60)}",
                street2=None if index % 3 else "Postboks " + str(b.rng.randrange(100, 999)),
                post_code=post_code,
                city=city,
                country_code="NO",
                currency_code="NOK",
                language="no",
                customer_state="inactive" if inactive else "active",
                last_modified=b.tick(),
            )
        )

    project_number = 1
    for customer in data.customers:
        for _ in range(projects_per_customer):
            index = project_number - 1
            started = start.date() - timedelta(days=30 * (index % 5) + 10)
            completed = index % 7 == 6
            # Project names must be unique in Fiken: the customer's name makes them so.
            project_name = (
                f"{_PROJECT_NAMES[index % len(_PROJECT_NAMES)]} – {customer.name.removesuffix(' AS')}"
            )
            data.projects.append(
                Project(
                    id=b.new_id(),
                    project_number=str(project_number),
                    name=project_name,
                    customer=customer_ref(customer),
                    # Every third project has no start date: Fiken refuses those, the sync must wait.
                    start_date=None if index % 3 == 2 else started,
                    end_date=started + timedelta(days=180) if completed or index % 4 == 0 else None,
                    project_state="completed" if completed else "inProgress",
                    last_modified=b.tick(),
                )
            )
            project_number += 1

    billable = [p for p in data.projects if p.start_date is not None] or data.projects
    number = first_invoice_number
    for index in range(invoices):
        project = billable[index % len(billable)] if billable and index % 5 != 4 else None
        customer = (
            data.customer(project.customer.id)
            if project and project.customer
            else data.customers[index % len(data.customers)]
        )
        data.invoices.append(_invoice(b, index, number, customer, project))
        number += 1

    if edge_cases and data.invoices:
        original = data.invoices[0]
        issued = original.invoice_date + timedelta(days=3)  # type: ignore[operator]
        data.invoices.append(
            credit_note_for(
                original, credit_id=b.new_id(), credit_number=number, credit_date=issued, modified=b.tick()
            )
        )
        number += 1
        customer = data.customers[0]
        draft = _invoice(b, len(data.invoices), None, customer, None)
        data.invoices.append(
            draft.model_copy(update={"invoice_state": InvoiceState.DRAFT.value, "payment_id": None})
        )
        skip = _invoice(b, len(data.invoices), number, customer, None)
        data.invoices.append(skip.model_copy(update={"export_status": ExportStatus.DO_NOT_TRANSFER.value}))
        number += 1
        euro = _invoice(b, len(data.invoices), number, customer, None, vat_free=True)
        data.invoices.append(
            euro.model_copy(update={"currency_code": "EUR", "currency_rate": Decimal("11.4625")})
        )
        number += 1
        rounded = _invoice(b, len(data.invoices), number, customer, None)
        rounding = make_line("7740", 1, Decimal("0.40"), description="Øreavrunding", product_type=None)
        data.invoices.append(with_totals(rounded.model_copy(update={"lines": [*rounded.lines, rounding]})))
    return data


def _invoice(
    b: _Builder,
    index: int,
    number: int | None,
    customer: Customer,
    project: Project | None,
    *,
    vat_free: bool = False,
) -> Invoice:
    rng = b.rng
    lines = [
        make_line(
            rng.choice(("3000", "3020")),
            Decimal(rng.choice(("7.5", "15", "22.5", "37.5", "3.25"))),
            Decimal(rng.choice(("1250", "1450", "1095.50", "990"))),
            description="Konsulenttimer",
            discount_percent=rng.choice((0, 0, 10)),
            product_type=ProductType.HOURS,
        )
    ]
    # Extra lines on other accounts, so one invoice carries several VAT codes.
    extras = (
        ("3050", "Reise og transport", ProductType.EXPENSES),
        ("3030", "Servering", ProductType.EXPENSES),
        ("3100", "Lisens (avgiftsfri)", ProductType.PRODUCTS),
        ("3200", "Tjenester levert utenfor Norge", ProductType.PRODUCTS),
    )
    for account, text, kind in rng.sample(extras, k=1 + index % 3):
        lines.append(
            make_line(
                account,
                rng.choice((1, 2, 3)),
                Decimal(rng.randrange(15_000, 450_000)) / 100,
                description=text,
                product_type=kind,
            )
        )
    if vat_free:
        lines = [make_line("3200", 10, Decimal("120.00"), description="Consulting hours (abroad)")]
    issued = DEFAULT_START.date() + timedelta(days=index)
    kid = (
        kid_mod10(f"{customer.customer_number}{number:06d}")
        if number is not None and index % 4 != 3
        else None
    )
    return with_totals(
        Invoice(
            id=b.new_id(),
            invoice_number=number,
            description=f"Faktura {project.name if project else customer.name}",
            customer=customer_ref(customer),
            project=project_ref(project) if project else None,
            invoice_date=issued,
            due_date=issued + timedelta(days=14),
            payment_id=kid,
            your_reference=rng.choice(_CONTACTS),
            their_reference=None,
            our_reference=rng.choice(_CONTACTS),
            currency_code="NOK",
            currency_rate=Decimal(1),
            credit_note=False,
            credited_invoice=None,
            export_status=ExportStatus.TO_TRANSFER.value,
            invoice_state=InvoiceState.FINALIZED.value if number is not None else InvoiceState.DRAFT.value,
            lines=lines,
            last_modified=b.tick(),
        )
    )
