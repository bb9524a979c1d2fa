"""The page's HTML, server-rendered: every value escaped, forms carry the session's CSRF token."""

from __future__ import annotations

from html import escape

from momentsync.selfservice.service import TenantPicture
from momentsync.selfservice.texts import CONNECTION, CONNECTION_PROBLEM, OUTCOME, Language, say

# No-store and no-referrer: the first URL holds a one-time token. No script at all.
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;"
    "color:#1d2733}h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe1}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{text-align:left;padding:.3rem .5rem;"
    "border-bottom:1px solid #e6e9ed;vertical-align:top}button{font:inherit;padding:.35rem .8rem}"
    "textarea{width:100%;font:inherit}.ok{color:#17663a}.bad{color:#a3261b}.note{background:#eef6ee;"
    "padding:.5rem .8rem;border-radius:4px}.error{background:#fbeaea;padding:.5rem .8rem;border-radius:4px}"
    "nav{float:right}nav a,nav form{display:inline;margin-left:.8rem}"
)


def _document(title: str, body: str, language: Language) -> str:
    return (
        f"<!doctype html><html lang={'nb' if language == 'nb' else 'en'}><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · momentsync</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _record(entity_type: str, language: Language) -> str:
    return say(entity_type, language) if entity_type in ("customer", "project", "invoice") else entity_type


def _csrf(csrf_token: str) -> str:
    return f'<input type=hidden name=csrf value="{escape(csrf_token)}">'


def _language_links(path: str, language: Language) -> str:
    other: Language = "en" if language == "nb" else "nb"
    label = "English" if other == "en" else "Norsk"
    return f'<a id=language href="{escape(path)}?lang={other}">{label}</a>'


def open_page(tenant_id: str, token: str, language: Language) -> str:
    """First visit: a button, so the link is spent only by a person (a POST), never by a mail scanner."""
    body = (
        f"<h1>{escape(say('open_title', language))}</h1><p>{escape(say('open_lead', language))}</p>"
        f'<form method=post action="/tenant/{escape(tenant_id)}/open?lang={language}">'
        f'<input type=hidden name=token value="{escape(token)}">'
        f"<button id=open>{escape(say('open_button', language))}</button></form>"
    )
    return _document(say("open_title", language), body, language)


def refused_page(language: Language) -> str:
    body = f"<h1>{escape(say('expired_title', language))}</h1><p>{escape(say('expired_lead', language))}</p>"
    return _document(say("expired_title", language), body, language)


def signed_out_page(language: Language) -> str:
    return _document(say("sign_out", language), f"<h1>{escape(say('signed_out', language))}</h1>", language)


def tenant_page(
    picture: TenantPicture,
    csrf_token: str,
    language: Language,
    *,
    notice: str | None = None,
    error: str | None = None,
    reconnect_url: str | None = None,
) -> str:
    tenant = picture.tenant
    base = f"/tenant/{escape(tenant.tenant_id)}"
    parts = [
        f"<nav>{_language_links(base, language)}"
        f'<form method=post action="{base}/sign-out?lang={language}">{_csrf(csrf_token)}'
        f"<button id=sign-out>{escape(say('sign_out', language))}</button></form></nav>",
        f"<h1>{escape(say('title', language))}: {escape(tenant.name)}</h1>",
    ]
    if notice:
        parts.append(f"<p class=note id=notice>{escape(notice)}</p>")
    if error:
        parts.append(f"<p class=error id=error>{escape(say('refused', language))}: {escape(error)}</p>")

    state = picture.connection
    described = CONNECTION.get(state, {}).get(language) or CONNECTION_PROBLEM[language]
    parts.append(f"<h2>{escape(say('connection', language))}</h2>")
    parts.append(f"<p id=connection class={'ok' if state == 'ok' else 'bad'}>{escape(described)}</p>")
    if tenant.target.value == "fiken":
        if reconnect_url:
            parts.append(
                f'<p><a id=reconnect-link href="{escape(reconnect_url)}">{escape(reconnect_url)}</a></p>'
            )
        else:
            parts.append(
                f'<form method=post action="{base}/reconnect?lang={language}">{_csrf(csrf_token)}'
                f"<button id=reconnect>{escape(say('reconnect', language))}</button></form>"
            )

    parts.append(f"<h2>{escape(say('transferred', language))}</h2>")
    parts.append(f"<p>{escape(say('types_all', language))}</p>")
    parts.append(f"<p><small>{escape(say('types_fixed', language))}</small></p>")

    parts.append(f"<h2>{escape(say('emails', language))}</h2>")
    emails = "\n".join(tenant.notification_emails)
    parts.append(
        f'<form method=post action="{base}/emails?lang={language}">{_csrf(csrf_token)}'
        f"<label for=emails>{escape(say('emails_help', language))}</label>"
        f"<textarea id=emails name=emails rows=3>{escape(emails)}</textarea>"
        f"<button id=save-emails>{escape(say('save', language))}</button></form>"
    )

    parts.append(f"<h2>{escape(say('failed', language))}</h2>")
    if picture.failed:
        rows = "".join(
            f"<tr><td>{escape(_record(e.entity_type, language))} {e.entity_id}</td>"
            f"<td>{escape(e.reason or '')}</td>"
            f'<td><form method=post action="{base}/send-again?lang={language}">{_csrf(csrf_token)}'
            f'<input type=hidden name=entity_type value="{escape(e.entity_type)}">'
            f'<input type=hidden name=moment_id value="{e.entity_id}">'
            f'<button class=send-again id="send-again-{escape(e.entity_type)}-{e.entity_id}">'
            f"{escape(say('send_again', language))}</button></form></td></tr>"
            for e in picture.failed
        )
        parts.append(f"<table id=failed>{rows}</table>")
    else:
        parts.append("<p>–</p>")

    parts.append(f"<h2>{escape(say('recent', language))}</h2>")
    if picture.transfers:
        header = "".join(
            f"<th>{escape(say(k, language))}</th>" for k in ("when", "record", "outcome", "remedy")
        )
        rows = ""
        for entry in picture.transfers:
            what, remedy = OUTCOME.get(entry.outcome.value, {}).get(language, (entry.outcome.value, ""))
            reason = f"<br><small>{escape(entry.reason)}</small>" if entry.reason else ""
            rows += (
                f"<tr class=transfer><td>{entry.logged_at:%Y-%m-%d %H:%M}</td>"
                f"<td>{escape(_record(entry.entity_type, language))} {entry.entity_id}</td>"
                f"<td>{escape(what)}{reason}</td><td>{escape(remedy)}</td></tr>"
            )
        parts.append(f"<table id=transfers><tr>{header}</tr>{rows}</table>")
    else:
        parts.append(f"<p>{escape(say('none', language))}</p>")
    return _document(say("title", language), "".join(parts), language)
