"""Connect pages show names chosen by others (the tenant's name, Fiken company names and numbers the Fiken
user controls): every one is escaped (#20 attack; withstood)."""

from __future__ import annotations

from momentsync.connect.flow import CompanyChoice, ConnectLanding, FikenCompany, NoMatchingCompany
from momentsync.connect.pages import landing_page, result_page

HOSTILE = "<img src=x onerror=alert(1)>\"'"


def test_names_from_tenants_and_fiken_users_are_escaped_on_every_page():
    companies = [FikenCompany(slug=HOSTILE, name=HOSTILE, organizationNumber=HOSTILE, hasApiAccess=True)]
    pages = [
        landing_page(ConnectLanding("t1", HOSTILE, "912345688", "tok")),
        result_page(CompanyChoice("t1", HOSTILE, companies, "choice", previous_company_missing=HOSTILE)),
        result_page(NoMatchingCompany("t1", HOSTILE, "912345688", companies)),
    ]
    for page in pages:
        assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
