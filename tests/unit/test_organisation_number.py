"""The organisation number a connect link binds to (#20): ASCII digits and a valid MOD11 check digit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from momentsync.tenants import Tenant, organization_number_problem

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def tenant(organization_number: str) -> Tenant:
    return Tenant(
        tenant_id="t1",
        name="T1 AS",
        target="fiken",
        moment_company_code="t1",
        webhook_secret_hash="0" * 64,
        created_at=NOW,
        updated_at=NOW,
        organization_number=organization_number,
    )


@pytest.mark.parametrize("digits", ["\u0669\u0661\u0662\u0663\u0664\u0665\u0666\u0668\u0668", "\uff19" * 9])
def test_an_organisation_number_holds_ascii_digits_only(digits):
    """Attack: the model's "\\d{9}" took Arabic-Indic and fullwidth digits, which no Fiken number equals."""
    assert organization_number_problem(digits) is not None
    with pytest.raises(ValueError):
        tenant(digits)
    assert tenant("912345688").organization_number == "912345688"


def test_the_mod11_check_digit():
    assert organization_number_problem("912345688") is None
    assert organization_number_problem("999999999") is None
    assert "MOD11" in organization_number_problem("912345689")
    assert "MOD11" in organization_number_problem("912345670")  # check digit would be 10: never issued
