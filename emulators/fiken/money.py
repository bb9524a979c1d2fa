"""How the emulator computes invoice and credit note amounts. The one place for rounding.

All amounts are integer øre. Per line (``line_amounts``):

1. ``net = round_half_up(unitPrice × quantity × (1 − discount/100))`` — quantity may be decimal,
   the product is exact (``Decimal``), rounded once to whole øre, half away from zero.
2. ``vat = round_half_up(net × rate/100)`` — VAT on the already rounded net.
3. ``gross = net + vat``.

Explicit line amounts (``explicit_line_amounts``): a line that carries ``net`` and ``vat`` (our
connector sends Moment's own figures for lines grouped by account) is booked as given, provided
``gross`` (if sent) equals ``net + vat`` and ``vat`` is within rounding distance of ``net × rate``:
at most 1 øre or 0.5 % of that VAT, whichever is larger. Grouped lines whose VAT was rounded line by
line differ from the group's recomputed VAT by a few øre; a wrong vatType is far outside that.
ASSUMPTION: Fiken's documentation lists ``net``/``vat``/``gross`` on invoice lines without saying
how it validates them; verify against a Fiken test company before relying on it in production.

Document totals are the sums of the lines' net, vat and gross. ``roundingType`` (øreavrunding,
NOK only) then rounds the gross total; the difference is booked without VAT (account 7740
"Øreavrunding"), so the emulator adds it to the net total and ``gross == net + vat`` still holds.

VAT rates by type at the issue date (``vat_rate``): HIGH 25, MEDIUM 15, LOW 12, RAW_FISH 11.11,
every other sales type 0. The table holds the rates in force since 2018-01-01; earlier dates and
temporary reductions (the 2020–2021 low-rate cut) are not modelled and fall back to these rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

# (effective from, percent); newest last.
VAT_RATES: dict[str, list[tuple[date, Decimal]]] = {
    "HIGH": [(date(2018, 1, 1), Decimal("25"))],
    "MEDIUM": [(date(2018, 1, 1), Decimal("15"))],
    "LOW": [(date(2018, 1, 1), Decimal("12"))],
    "RAW_FISH": [(date(2018, 1, 1), Decimal("11.11"))],
}
ZERO_RATED_SALES_TYPES = frozenset({"NONE", "EXEMPT", "EXEMPT_IMPORT_EXPORT", "EXEMPT_REVERSE", "OUTSIDE"})
SALES_VAT_TYPES = frozenset(VAT_RATES) | ZERO_RATED_SALES_TYPES
# What a company that is not VAT registered may use (the brief allows NONE besides Fiken's OUTSIDE).
NOT_VAT_REGISTERED_TYPES = frozenset({"OUTSIDE", "NONE"})
ROUNDING_STEPS = {"round_half": 50, "round_whole": 100, "round_down_half": 50, "round_down_whole": 100}


def round_half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_rate(vat_type: str, on: date) -> Decimal:
    periods = VAT_RATES.get(vat_type)
    if periods is None:
        return Decimal(0)
    rate = periods[0][1]
    for start, percent in periods:
        if on >= start:
            rate = percent
    return rate


@dataclass(frozen=True)
class LineAmounts:
    net: int
    vat: int
    gross: int
    vat_percent: Decimal


def line_amounts(unit_price: int, quantity: Decimal, discount: Decimal, rate: Decimal) -> LineAmounts:
    net = round_half_up(Decimal(unit_price) * quantity * (Decimal(100) - discount) / Decimal(100))
    vat = round_half_up(Decimal(net) * rate / Decimal(100))
    return LineAmounts(net=net, vat=vat, gross=net + vat, vat_percent=rate)


def explicit_line_amounts(net: int, vat: int, gross: int | None, rate: Decimal) -> LineAmounts | None:
    """The amounts as given, or ``None`` when they are inconsistent with each other or the rate."""
    if gross is not None and gross != net + vat:
        return None
    expected = Decimal(net) * rate / Decimal(100)
    tolerance = max(Decimal(1), abs(expected) * Decimal("0.005"))
    if abs(Decimal(vat) - expected) > tolerance:
        return None
    return LineAmounts(net=net, vat=vat, gross=net + vat, vat_percent=rate)


def rounding_difference(gross: int, rounding_type: str | None, currency: str) -> int:
    """Øre to add to the gross total for ``roundingType`` (0 for none and for non-NOK documents)."""
    step = ROUNDING_STEPS.get(rounding_type or "none")
    if step is None or currency != "NOK":
        return 0
    if rounding_type and rounding_type.startswith("round_down"):
        rounded = int((Decimal(gross) / step).to_integral_value(rounding=ROUND_FLOOR)) * step
    else:
        rounded = round_half_up(Decimal(gross) / step) * step
    return rounded - gross


def number(value: float | int | str | Decimal) -> Decimal:
    """A JSON number as an exact decimal (via ``str`` so 0.1 stays 0.1)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def plain_number(value: Decimal) -> int | float:
    """A decimal back to a JSON number: an int when whole."""
    return int(value) if value == value.to_integral_value() else float(value)


# Fiken books a foreign-currency invoice in NOK at its own rate for the issue date (the API takes no
# rate on invoices or credit notes; the *InNok fields of the results are those NOK amounts). The
# emulator's rates: fixed, close to Norges Bank's 2025 rates, and deliberately not any client's rate.
FIKEN_RATES = {
    "NOK": Decimal(1),
    "EUR": Decimal("11.5210"),
    "SEK": Decimal("0.9903"),
    "DKK": Decimal("1.5443"),
    "USD": Decimal("10.8120"),
    "GBP": Decimal("13.6050"),
}


def in_nok(amount: int, currency: str, on: date) -> int:
    """Minor units of ``currency`` as øre at the emulator's rate (``on`` kept for a dated table)."""
    rate = FIKEN_RATES.get(currency.upper())
    if rate is None:
        raise ValueError(f"no exchange rate for {currency}")
    return round_half_up(Decimal(amount) * rate)
