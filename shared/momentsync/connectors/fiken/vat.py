"""SAF-T sales VAT codes (as set on Moment's sales accounts) -> Fiken ``vatType``, and the rates.

The table is Fiken's own (fiken-openapi.yaml, "VAT Code"): code 3 -> HIGH, 31 -> MEDIUM,
32 -> RAW_FISH, 33 -> LOW, 5 -> EXEMPT, 51 -> EXEMPT_REVERSE, 52 -> EXEMPT_IMPORT_EXPORT,
6 -> OUTSIDE, 0 and 7 -> NONE. A tenant may override single codes (MappingSettings.vat_code_overrides).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from momentsync.errors import PermanentError

SAFT_SALES_CODE_TO_VAT_TYPE: Final[dict[str, str]] = {
    "0": "NONE",
    "7": "NONE",
    "3": "HIGH",
    "31": "MEDIUM",
    "32": "RAW_FISH",
    "33": "LOW",
    "5": "EXEMPT",
    "51": "EXEMPT_REVERSE",
    "52": "EXEMPT_IMPORT_EXPORT",
    "6": "OUTSIDE",
}
SALES_VAT_TYPES: Final[frozenset[str]] = frozenset(SAFT_SALES_CODE_TO_VAT_TYPE.values())

# Percent per vatType (current Norwegian rates; RAW_FISH is 11.11 %).
VAT_RATE_PERCENT: Final[dict[str, Decimal]] = {
    "HIGH": Decimal("25"),
    "MEDIUM": Decimal("15"),
    "LOW": Decimal("12"),
    "RAW_FISH": Decimal("11.11"),
    "EXEMPT": Decimal("0"),
    "EXEMPT_REVERSE": Decimal("0"),
    "EXEMPT_IMPORT_EXPORT": Decimal("0"),
    "OUTSIDE": Decimal("0"),
    "NONE": Decimal("0"),
}

# Moment's øreavrunding account needs no VAT code (Moment's own Fiken integration says so).
ROUNDING_ACCOUNT: Final[str] = "7740"


def vat_type_for(
    saft_code: str | None,
    *,
    account: str,
    overrides: dict[str, str],
    vat_registered: bool,
) -> str:
    """The Fiken vatType of a line on ``account`` whose Moment sales account carries ``saft_code``."""
    if not vat_registered:
        # Fiken: "VAT charged when the company is not VAT registered. The only VAT type accepted is OUTSIDE."
        return "OUTSIDE"
    if account == ROUNDING_ACCOUNT and not saft_code:
        return "NONE"
    if not saft_code:
        raise PermanentError(
            f"account {account} has no VAT code in Moment; set its SAF-T VAT code under "
            "Setup > Accounting > Bookkeeping accounts, then re-export the invoice"
        )
    code = saft_code.strip()
    vat_type = overrides.get(code) or SAFT_SALES_CODE_TO_VAT_TYPE.get(code)
    if vat_type is None:
        raise PermanentError(
            f"account {account} has VAT code {code}, which is not a SAF-T sales code Fiken knows; "
            "fix the code on the account in Moment or add a VAT-code override for this tenant"
        )
    if vat_type not in SALES_VAT_TYPES:
        raise PermanentError(f"VAT-code override {code} -> {vat_type} is not a Fiken sales vatType")
    return vat_type
