"""The small HTML pages of the connect flow: plain, escaped, no scripts, never a token or a trace.

Text Fiken (or whoever crafted the callback URL) puts in the query, such as ``error_description``,
is never shown: a forged callback link must not be able to put its words on our page.
"""

from __future__ import annotations

from html import escape

from momentsync.connect.flow import (
    CompanyChoice,
    Connected,
    ConnectLanding,
    ConnectProblem,
    ConnectResult,
    FikenCompany,
    NoCompanyWithApiAccess,
    NoMatchingCompany,
)

CHOOSE_COMPANY_PATH = "/connect/fiken/company"
CONTINUE_PATH = "/connect/fiken/{tenant_id}/continue"

# No-store: the pages follow URLs holding one-time tokens; no-referrer: never pass those URLs on.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}

_ASK_FOR_A_NEW_LINK = "Ask your momentsync contact for a new connect link and open it once."

_REFUSALS: dict[ConnectProblem, tuple[str, str]] = {
    ConnectProblem.LINK_UNKNOWN: (
        "This connect link is not valid",
        f"The link is not valid or has already been used (each link works once). {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.LINK_EXPIRED: ("This connect link has expired", _ASK_FOR_A_NEW_LINK),
    ConnectProblem.STATE_UNKNOWN: (
        "This sign-in cannot be completed",
        "The answer from Fiken does not belong to a connection started here, or it was already used "
        f"(for instance by reloading the page). {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.STATE_EXPIRED: (
        "This sign-in took too long",
        f"The approval in Fiken was not finished in time. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.CHOICE_UNKNOWN: (
        "This choice cannot be used",
        "The company list is not valid or a company was already chosen from it. If the connection "
        f"is not finished yet: {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.CHOICE_EXPIRED: (
        "The company list has expired",
        f"No company was chosen in time. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.COMPANY_NOT_OFFERED: (
        "That company cannot be chosen",
        f"Only the companies shown in the list can be chosen. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.CODE_REJECTED: (
        "Fiken did not accept the sign-in",
        f"The approval from Fiken has expired or was already used. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.MISSING_PARAMETERS: (
        "This address is incomplete",
        f"Fiken's answer is missing parts. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.TENANT_UNKNOWN: ("Unknown connection", _ASK_FOR_A_NEW_LINK),
    ConnectProblem.NOT_A_FIKEN_TENANT: (
        "Not a Fiken connection",
        "This account is not set up to transfer to Fiken. Contact your momentsync contact.",
    ),
    ConnectProblem.OTHER_BROWSER: (
        "Please finish in the same browser",
        "The approval in Fiken came back to a different browser than the one the connect link was "
        f"opened in (or cookies are blocked for this site). {_ASK_FOR_A_NEW_LINK} Open it in the "
        "browser you use for Fiken and stay in it until the end.",
    ),
    ConnectProblem.MALFORMED_FORM: (
        "This request cannot be read",
        f"The form sent here was not one of ours. {_ASK_FOR_A_NEW_LINK}",
    ),
    ConnectProblem.CROSS_SITE: (
        "Please use the link itself",
        "This request came from another web site, not from our page. Open the connect link you were "
        "sent and press the button there. Nothing was changed and the link still works.",
    ),
    ConnectProblem.AUTHORIZATION_FAILED: (
        "Fiken refused the connection",
        "Fiken did not accept momentsync's request. This is a problem on our side; your momentsync "
        "contact has been told. Try again later with a new link.",
    ),
}


def render_page(title: str, *paragraphs: str, body_html: str = "") -> str:
    """A whole page; ``title`` and ``paragraphs`` are escaped, ``body_html`` must be built escaped."""
    text = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · momentsync</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;"
        "line-height:1.5}button{font:inherit;padding:.4rem .8rem;margin:.2rem 0}"
        "li{margin:.4rem 0}small{color:#555}</style></head>"
        f"<body><h1>{escape(title)}</h1>{text}{body_html}</body></html>"
    )


def refused_page(problem: ConnectProblem) -> str:
    title, message = _REFUSALS[problem]
    return render_page(title, message)


def landing_page_headers(authorize_origin: str) -> dict[str, str]:
    """The landing form's POST answers with a redirect to Fiken: form-action must allow Fiken's origin."""
    headers = dict(PAGE_HEADERS)
    headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {authorize_origin}"
    )
    return headers


def landing_page(landing: ConnectLanding) -> str:
    """The link's GET: says whose books are being connected; only the button (a POST) spends the link."""
    org = f" (organisation number {landing.organization_number})" if landing.organization_number else ""
    form = (
        f'<form method=post action="{escape(CONTINUE_PATH.format(tenant_id=landing.tenant_id))}">'
        f'<input type=hidden name=token value="{escape(landing.link_token)}">'
        "<button type=submit>Continue to Fiken</button></form>"
        "<p><small>The link works once. If you do not know this company, or did not expect this "
        "link, close this page: nothing happens.</small></p>"
    )
    return render_page(
        "Connect momentsync to Fiken",
        f"This link connects {landing.tenant_name}{org} to its Fiken company, so that invoices, "
        "customers and projects from Moment are transferred there.",
        "Continue only if you manage that company in Fiken: Fiken will ask you to approve momentsync, "
        "and only the Fiken company with this organisation number can be linked.",
        body_html=form,
    )


def declined_page() -> str:
    # No tenant name: whoever crafts a callback URL must not learn whose state it holds.
    return render_page(
        "You declined the connection",
        "You declined to give momentsync access to Fiken, so nothing was connected and no "
        "invoices or customers will be transferred.",
        f"If that was a mistake: {_ASK_FOR_A_NEW_LINK}",
    )


def authorization_error_page() -> str:
    return render_page(
        "Fiken could not complete the connection",
        f"Fiken ended the approval without connecting. {_ASK_FOR_A_NEW_LINK}",
    )


def unavailable_page() -> str:
    return render_page(
        "Temporarily unavailable",
        "momentsync or Fiken could not finish the request just now. Wait a few minutes. "
        f"If the connection is still not done: {_ASK_FOR_A_NEW_LINK}",
    )


def result_page(result: ConnectResult) -> str:
    if isinstance(result, Connected):
        return connected_page(result)
    if isinstance(result, CompanyChoice):
        return choose_company_page(result)
    if isinstance(result, NoMatchingCompany):
        return no_matching_company_page(result)
    return no_company_page(result)


def no_matching_company_page(result: NoMatchingCompany) -> str:
    wanted = (
        f"organisation number {result.organization_number}"
        if result.organization_number
        else "an organisation number confirmed by your momentsync contact"
    )
    names = ", ".join(_company_label(c) for c in result.companies)
    return render_page(
        "None of these Fiken companies can be linked",
        f"{result.tenant_name} can only be linked to the Fiken company with {wanted}. You gave "
        f"momentsync access to: {names}. Nothing was connected, and momentsync's access was withdrawn.",
        "Give momentsync access to the right company in Fiken (Rediger konto → Sikkerhet → Apper du "
        f"har gitt tilgang til), or ask your momentsync contact to check the organisation number. "
        f"Then: {_ASK_FOR_A_NEW_LINK}",
    )


def connected_page(result: Connected) -> str:
    held = ""
    if result.resume_failed:
        held = "Transfers held while the connection was broken are being resumed by our operators."
    elif result.resumed:
        held = f"{result.resumed} held transfer(s) are now on their way, in their original order."
    return render_page(
        "Connected to Fiken",
        f"{result.tenant_name} now transfers to the Fiken company {_company_label(result.company)}.",
        *([held] if held else []),
        "You can close this page.",
    )


def choose_company_page(result: CompanyChoice) -> str:
    intro = [f"Which Fiken company should {result.tenant_name} transfer to?"]
    if result.previous_company_missing:
        intro.insert(
            0,
            f"The company {result.previous_company_missing} was used before, but momentsync has no "
            "API access to it now. Choosing another company starts transferring there.",
        )
    items = "".join(
        f'<li><button type=submit name=company value="{escape(c.slug)}">{escape(_company_label(c))}'
        "</button></li>"
        for c in result.companies
    )
    form = (
        f'<form method=post action="{CHOOSE_COMPANY_PATH}">'
        f'<input type=hidden name=choice value="{escape(result.choice_token)}"><ul>{items}</ul></form>'
        "<p><small>A company is missing? In Fiken, give momentsync access to it (Rediger konto → "
        "Sikkerhet → Apper du har gitt tilgang til) and activate its API module, then ask for a new "
        "link.</small></p>"
    )
    return render_page("Choose the Fiken company", *intro, body_html=form)


def no_company_page(result: NoCompanyWithApiAccess) -> str:
    names = ", ".join(_company_label(c) for c in result.companies) or "none"
    return render_page(
        "No Fiken company can be used yet",
        f"momentsync was given access to these companies: {names}. None of them has Fiken's API "
        "module active, which transfers need.",
        "Activate the API module for the company in Fiken (and give momentsync access to it under "
        f"Rediger konto → Sikkerhet → Apper du har gitt tilgang til). Then: {_ASK_FOR_A_NEW_LINK}",
    )


def _company_label(company: FikenCompany) -> str:
    org = f" ({company.organization_number})" if company.organization_number else ""
    test = " (test company)" if company.test_company else ""
    return f"{company.name or company.slug}{org}{test}"
