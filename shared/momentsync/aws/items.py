"""DynamoDB items as plain Python values: the one place that knows boto3 returns numbers as Decimal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def plain_values(value: Any) -> Any:
    """``value`` with every Decimal as an int (whole) or a str (fractional: never a float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: plain_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_values(v) for v in value]
    return value
