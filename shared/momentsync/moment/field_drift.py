"""Drift alarm: fields Moment sends that our models do not know, reported once per field per process.

Moment's field names are mostly guesses (see ``models``). A field we do not know may be the real
name of one we guessed wrong (``orgNumber`` for ``organizationNumber``), so each new one is logged
(the field's path, never its value) and counted in the ``MomentUnknownField`` metric, once per
process: a warm Lambda does not repeat itself, a new field shows up within minutes of Moment
starting to send it. ``momentsync tenants probe`` gives the full picture for one tenant.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from momentsync.moment.models import Page
from momentsync.observability import logger, metrics

METRIC = "MomentUnknownField"

# Keys the models read through their flat-include forms (``customerName`` for ``customer.name``):
# known, even though they stay in ``model_extra`` after the nested object was rebuilt from them.
FLAT_INCLUDE_KEYS = frozenset(
    {
        "customerId",
        "customerNumber",
        "customerName",
        "projectId",
        "projectNumber",
        "projectName",
        "financialAccountId",
        "financialAccountAccountNumber",
        "financialAccountExternalTaxCode",
        "financialAccountVatCategoryCode",
        "financialAccountName",
        "accountNumber",
        "externalTaxCode",
        "vatCategoryCode",
        "amountIncludingVat",
        "grossAmount",
        "creditedInvoiceId",
        "creditedInvoiceNumber",
        "originalInvoiceId",
        "originalInvoiceNumber",
    }
)

_reported: set[str] = set()
_lock = threading.Lock()


def unknown_fields(record: BaseModel, prefix: str | None = None) -> list[str]:
    """Paths (``Invoice.invoiceLines[].foo``) of every field in ``record`` no model knows."""
    if prefix is None and isinstance(record, Page):
        # A list answer: report against the records' model (``Customer.x``), not the page's.
        found = [f"Page.{key}" for key in (record.model_extra or {})]
        for item in record.content:
            found += unknown_fields(item)
        return sorted(set(found))
    prefix = prefix or type(record).__name__
    found = [f"{prefix}.{key}" for key in (record.model_extra or {}) if key not in FLAT_INCLUDE_KEYS]
    for name in type(record).model_fields:
        value = getattr(record, name, None)
        info = type(record).model_fields[name]
        label = info.alias or name
        if isinstance(value, BaseModel):
            found += unknown_fields(value, f"{prefix}.{label}")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    found += unknown_fields(item, f"{prefix}.{label}[]")
    return sorted(set(found))


def report_unknown_fields(record: BaseModel) -> list[str]:
    """Log and count the unknown fields of ``record`` not reported before in this process."""
    fresh = []
    with _lock:
        for path in unknown_fields(record):
            if path not in _reported:
                _reported.add(path)
                fresh.append(path)
    for path in fresh:
        logger.warning("Moment sent a field the models do not know", extra={"moment_field": path})
        metrics.add_metric(name=METRIC, unit=MetricUnit.Count, value=1)
    return fresh


def forget_reported() -> None:
    """For tests: start over as a fresh process would."""
    with _lock:
        _reported.clear()
