"""What a person does with a connect link, for the demo and the chaos run: open it (the landing page
names the tenant; a GET spends nothing), press "Continue to Fiken" (a POST), follow the redirects."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx

_FORM = re.compile(r'<form method=post action="([^"]+)"><input type=hidden name=token value="([^"]+)">')


def open_connect_link(browser: httpx.Client, link: str) -> httpx.Response:
    """``browser`` must follow redirects and keep cookies (an ``httpx.Client(follow_redirects=True)``)."""
    landing = browser.get(link)
    form = _FORM.search(landing.text) if landing.status_code == 200 else None
    if form is None:
        return landing
    return browser.post(urljoin(link, unescape(form.group(1))), data={"token": unescape(form.group(2))})
