"""A corpus of Moment invoices that are hard to book to the øre, built deterministically with make_line.

Each ``CorpusInvoice`` is what a Moment user could finalize: several VAT rates on one invoice,
discounts, decimal quantities, the 7740 øreavrunding line, many lines on one account (per-line VAT
rounding that a grouped line must keep), EUR at an exchange rate, no KID, tiny and large amounts,
negative adjustments, full and partial credit notes. ``BATCHES`` splits it over a few tenants
(Fiken paces each token at 4 requests/s), one batch per Fiken company set-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from emulators.moment.fixtures import make_line
from momentsync.moment.models import InvoiceLine

START = date(2025, 2, 3)


@dataclass(frozen=True)
class CorpusInvoice:
    key: str
    lines: tuple[InvoiceLine, ...] = ()
    currency: str = "NOK"
    currency_rate: Decimal = Decimal(1)
    kid: bool = True
    # A credit note: the key of the corpus invoice it credits; no lines = all of them, negated.
    credits: str | None = None
    # What the pipeline must make of it: "synced" (booked to the øre), or refused/skipped with a reason
    # containing ``reason`` ("failed" = a permanent error in the DLQ, "skipped" = nothing to book).
    expect: str = "synced"
    reason: str | None = None
    their_reference: str | None = None


@dataclass(frozen=True)
class CorpusBatch:
    name: str
    invoices: tuple[CorpusInvoice, ...]
    company: dict = field(default_factory=dict)  # Fiken company knobs (e.g. vat_registered=False)
    invoice_mode: str = "invoice"


def line(account: str, quantity, unit_price, text: str = "Konsulenttimer", discount=0) -> InvoiceLine:
    return make_line(
        account,
        Decimal(str(quantity)),
        Decimal(str(unit_price)),
        description=text,
        discount_percent=Decimal(str(discount)),
    )


def without_vat(lines: list[InvoiceLine]) -> tuple[InvoiceLine, ...]:
    """Lines as a company outside the VAT register invoices them: Moment charges no VAT."""
    return tuple(x.model_copy(update={"vat_amount": Decimal(0), "vat_percent": Decimal(0)}) for x in lines)


def _many_lines_one_account() -> tuple[InvoiceLine, ...]:
    # 24 time entries with odd rates: each line's VAT is rounded on its own (Moment), the sum differs
    # from VAT on the summed net by several øre.
    return tuple(
        line(
            "3000",
            Decimal("0.25") * (1 + i % 7),
            Decimal("987.63") + i * Decimal("11.11"),
            f"Timer uke {i + 1}",
        )
        for i in range(24)
    )


def _tiny_lines_one_account() -> tuple[InvoiceLine, ...]:
    # Ten 2-øre lines: VAT 0.5 øre each, rounded up to 1 øre per line = 10 øre; on the sum only 5 øre.
    return tuple(line("3000", 1, "0.02", f"Gebyr {i + 1}") for i in range(10))


VAT_RATES = CorpusBatch(
    "vat-rates-and-discounts",
    (
        CorpusInvoice("one-line-25", (line("3000", 1, 1000),)),
        CorpusInvoice(
            "all-rates",
            (
                line("3000", "7.5", 1250),
                line("3030", 4, "189.90", "Servering"),
                line("3050", 1, "1234.56", "Reise"),
                line("3100", 1, 4990, "Lisens (avgiftsfri)"),
                line("3200", 2, "750.50", "Tjenester levert i utlandet"),
            ),
        ),
        CorpusInvoice(
            "two-rates-same-type", (line("3000", 3, 990), line("3020", "2.5", "1095.50", "Rådgivning"))
        ),
        CorpusInvoice("discount-10", (line("3000", 15, 1450, discount=10),)),
        CorpusInvoice(
            "discount-odd",
            (line("3020", "3.25", "1095.50", discount="12.5"), line("3000", 1, 999, discount=33)),
        ),
        CorpusInvoice(
            "decimal-quantities",
            (
                line("3000", "7.5", "1095.50"),
                line("3000", "0.333", 1500),
                line("3050", "12.75", "37.40", "Km"),
            ),
        ),
        CorpusInvoice("many-lines-one-account", _many_lines_one_account()),
        CorpusInvoice(
            "medium-rate-only", (line("3030", 37, "49.90", "Lunsj"), line("3030", 1, "0.10", "Pant"))
        ),
        CorpusInvoice("low-rate-only", (line("3050", "123.5", "12.34", "Kilometer"),)),
        CorpusInvoice("exempt-and-outside", (line("3100", 1, "15000"), line("3200", "3.5", "1200.00"))),
        CorpusInvoice(
            "mixed-discounts-and-rates",
            (
                line("3000", 10, 1250, discount=10),
                line("3000", 5, 1250),
                line("3050", 2, "899.99", "Reise", discount=5),
                line("3030", 3, "333.33", "Servering", discount=15),
            ),
        ),
    ),
)

AMOUNTS = CorpusBatch(
    "amounts-rounding-and-kid",
    (
        CorpusInvoice(
            "rounding-line-up", (line("3000", "7.5", "1095.50"), line("7740", 1, "0.38", "Øreavrunding"))
        ),
        CorpusInvoice(
            "rounding-line-down",
            (line("3050", 3, "41.57", "Reise"), line("7740", 1, "-0.37", "Øreavrunding")),
        ),
        CorpusInvoice("no-kid", (line("3000", 2, 1450),), kid=False),
        CorpusInvoice("tiny-one-ore", (line("3000", 1, "0.01", "Testlinje"),)),
        CorpusInvoice("tiny-lines-one-account", _tiny_lines_one_account()),
        CorpusInvoice(
            "large-amount",
            (line("3000", 1, "12345678.90", "Totalentreprise"), line("3050", 1, "987654.32", "Transport")),
        ),
        CorpusInvoice("large-quantity", (line("3000", "1500.5", "1495.75"),)),
        CorpusInvoice(
            "negative-adjustment-same-account",
            (line("3000", 20, 1250), line("3000", 1, "-2500", "Avtalt rabatt")),
        ),
        CorpusInvoice(
            "negative-adjustment-own-line",
            (line("3020", 10, "1095.50"), line("3000", -2, "333.33", "Kreditert tid")),
        ),
        CorpusInvoice(
            "half-ore-vat-boundary",
            (line("3000", 1, "0.02"), line("3000", 1, "0.06"), line("3050", 1, "0.04", "Km")),
        ),
        CorpusInvoice("many-lines-no-kid", _many_lines_one_account()[:9], kid=False),
    ),
)

CREDITS_AND_CURRENCY = CorpusBatch(
    "credit-notes-and-currency",
    (
        CorpusInvoice(
            "eur-outside",
            (line("3200", 10, "120.00", "Consulting hours (abroad)"),),
            currency="EUR",
            currency_rate=Decimal("11.4625"),
            # Fiken invoices take no rate: booked at Fiken's, flagged with both NOK figures.
            expect="flagged",
            reason="in NOK: Moment",
        ),
        CorpusInvoice(
            "eur-with-vat",
            (line("3000", "7.5", "110.50"), line("3050", 1, "45.45", "Travel")),
            currency="EUR",
            currency_rate=Decimal("11.7312"),
            # Fiken invoices take no rate: booked at Fiken's, flagged with both NOK figures.
            expect="flagged",
            reason="in NOK: Moment",
        ),
        CorpusInvoice(
            "sek",
            (line("3000", 12, "1100.00"),),
            currency="SEK",
            currency_rate=Decimal("0.9874"),
            # Fiken invoices take no rate: booked at Fiken's, flagged with both NOK figures.
            expect="flagged",
            reason="in NOK: Moment",
        ),
        CorpusInvoice("to-credit-fully", (line("3000", "7.5", 1250), line("3050", 1, "1234.56", "Reise"))),
        CorpusInvoice("full-credit", credits="to-credit-fully"),
        CorpusInvoice(
            "to-credit-partly",
            (
                line("3000", 10, 1250),
                line("3050", 2, "899.99", "Reise"),
                line("3030", 3, "189.90", "Servering"),
            ),
        ),
        CorpusInvoice(
            "partial-credit", (line("3050", -1, "899.99", "Reise kreditert"),), credits="to-credit-partly"
        ),
        CorpusInvoice(
            "partial-credit-two-rates",
            (
                line("3000", "-2.5", 1250, "Timer kreditert"),
                line("3030", -1, "189.90", "Servering kreditert"),
            ),
            credits="to-credit-partly",
        ),
        CorpusInvoice("to-credit-many-lines", _many_lines_one_account()[:12]),
        CorpusInvoice("full-credit-many-lines", credits="to-credit-many-lines"),
    ),
)

NOT_VAT_REGISTERED = CorpusBatch(
    "not-vat-registered",
    (
        CorpusInvoice("novat-hours", without_vat([line("3000", "7.5", 1250)])),
        CorpusInvoice(
            "novat-mixed-accounts",
            without_vat([line("3000", 3, 990), line("3050", 1, "123.45", "Reise"), line("3200", 1, 500)]),
        ),
        CorpusInvoice(
            "novat-discount", without_vat([line("3020", "2.75", "1095.50", discount=10)]), kid=False
        ),
    ),
    company={"vat_registered": False},
)

SALES = CorpusBatch(
    "sale-mode",
    (
        CorpusInvoice(
            "sale-all-rates",
            (
                line("3000", "7.5", 1250),
                line("3030", 4, "189.90", "Servering"),
                line("3050", 1, "1234.56", "Reise"),
                line("3100", 1, 4990, "Lisens"),
            ),
        ),
        CorpusInvoice("sale-many-lines", _many_lines_one_account()),
        CorpusInvoice("sale-no-kid", (line("3000", 2, 1450, discount=10),), kid=False),
        CorpusInvoice(
            "sale-eur",
            (line("3000", "7.5", "110.50"), line("3200", 2, "99.95", "Abroad")),
            currency="EUR",
            currency_rate=Decimal("11.7312"),
        ),
        CorpusInvoice(
            "sale-eur-credit",
            (line("3000", "-2.5", "110.50", "Credited hours"),),
            currency="EUR",
            currency_rate=Decimal("11.7312"),
            credits="sale-eur",
        ),
    ),
    invoice_mode="sale",
)


def _credit_shapes(prefix: str) -> tuple[CorpusInvoice, ...]:
    """Every credit and zero shape the issue names, for one target / mode (keys unique per batch)."""
    return (
        CorpusInvoice(
            f"{prefix}to-credit-fully", (line("3000", "7.5", 1250), line("3050", 1, "1234.56", "Reise"))
        ),
        CorpusInvoice(f"{prefix}full-credit", credits=f"{prefix}to-credit-fully"),
        CorpusInvoice(
            f"{prefix}to-credit-partly",
            (
                line("3000", 10, 1250),
                line("3050", 2, "899.99", "Reise"),
                line("3030", 3, "189.90", "Servering"),
            ),
        ),
        CorpusInvoice(
            f"{prefix}partial-credit",
            (line("3050", -1, "899.99", "Reise kreditert"),),
            credits=f"{prefix}to-credit-partly",
        ),
        CorpusInvoice(
            f"{prefix}partial-credit-two-rates",
            (
                line("3000", "-2.5", 1250, "Timer kreditert"),
                line("3030", -1, "189.90", "Servering kreditert"),
            ),
            credits=f"{prefix}to-credit-partly",
        ),
        # Same gross as the original (1250.00 incl. VAT) but credited at 15 % on another account: a full
        # credit note would book the original's 25 % line (VAT off by 86.96 NOK).
        CorpusInvoice(f"{prefix}to-credit-other-rate", (line("3000", 1, 1000),)),
        CorpusInvoice(
            f"{prefix}credit-other-rate-same-gross",
            (line("3030", -1, "1086.96", "Servering kreditert"),),
            credits=f"{prefix}to-credit-other-rate",
        ),
        CorpusInvoice(f"{prefix}to-over-credit", (line("3000", 1, 1000),)),
        CorpusInvoice(
            f"{prefix}credit-above-original",
            (line("3000", -1, 1200, "For mye kreditert"),),
            credits=f"{prefix}to-over-credit",
            expect="failed",
            reason="credits 150000 øre, more than is left",
        ),
        CorpusInvoice(f"{prefix}to-credit-twice", (line("3000", 4, 1000),)),
        CorpusInvoice(f"{prefix}credit-half", (line("3000", -2, 1000),), credits=f"{prefix}to-credit-twice"),
        CorpusInvoice(
            f"{prefix}credit-more-than-left",
            (line("3000", -3, 1000),),
            credits=f"{prefix}to-credit-twice",
            expect="failed",
            reason="more than is left on invoice",
        ),
        CorpusInvoice(f"{prefix}zero-total", (line("3000", 1, 500), line("3020", -1, 500, "Rabatt"))),
        CorpusInvoice(
            f"{prefix}only-zero-lines",
            (line("3000", 0, 500), line("3050", 1, 0, "Reise")),
            expect="skipped",
            reason="only zero lines",
        ),
        CorpusInvoice(
            f"{prefix}their-reference", (line("3000", 1, 750),), their_reference="Prosjekt Nord/ordre 7781"
        ),
    )


CREDIT_SHAPES = CorpusBatch("credit-shapes", _credit_shapes(""))
SALE_CREDITS = CorpusBatch("sale-credit-shapes", _credit_shapes("sale-"), invoice_mode="sale")

BATCHES: tuple[CorpusBatch, ...] = (
    VAT_RATES,
    AMOUNTS,
    CREDITS_AND_CURRENCY,
    NOT_VAT_REGISTERED,
    SALES,
    CREDIT_SHAPES,
    SALE_CREDITS,
)
# SpareBank 1 Regnskap: NOK only in this release, one company (the rates, rounding and credit shapes).
SB1_BATCHES: tuple[CorpusBatch, ...] = (
    VAT_RATES,
    AMOUNTS,
    CorpusBatch("sb1-credit-shapes", _credit_shapes("sb1-")),
)


def issue_date(index: int) -> date:
    return START + timedelta(days=index)


def size() -> int:
    return sum(len(batch.invoices) for batch in BATCHES)
