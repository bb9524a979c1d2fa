"""Attack on #21's HTML-page detection: only bodies starting with ``<!doctype html`` or ``<html`` (after
whitespace) under a JSON content type were recognised. A login page with a byte-order mark, a leading
comment or an XML prolog fell through to "not JSON", a permanent error of the one event: every event of
the tenant dead-lettered instead of the tenant being parked (what the issue asks)."""

from __future__ import annotations

import pytest
import respx

from momentsync.errors import TenantLevelError, TenantProblem
from momentsync.moment.client import MomentClient, MomentResponseInvalid

BASE = "https://moment.test/api/1.0"
ROOT = f"{BASE}/companies/acme"
LOGIN = b"<html><body><form action='/login'>Logg inn</form></body></html>"


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf<!DOCTYPE html>" + LOGIN,
        b"<!-- maintenance -->\n" + LOGIN,
        b"<?xml version='1.0'?>\n<!DOCTYPE html PUBLIC '-//W3C//DTD XHTML 1.0//EN'>" + LOGIN,
        b"\r\n\t<head><title>Moment</title></head>",
    ],
)
def test_an_html_page_in_any_dress_parks_the_tenant(body):
    with (
        respx.mock(base_url=ROOT) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as client,
    ):
        mock.get("/customers/1").respond(200, content=body, headers={"content-type": "application/json"})
        with pytest.raises(TenantLevelError) as exc:
            client.get_customer(1)
    assert exc.value.problem is TenantProblem.MOMENT_KEY_INVALID


def test_json_that_does_not_fit_is_still_a_per_event_error():
    with (
        respx.mock(base_url=ROOT) as mock,
        MomentClient("acme", "sk-key", base_url=BASE, sleep=lambda s: None) as client,
    ):
        mock.get("/customers/1").respond(200, json={"id": 1})
        with pytest.raises(MomentResponseInvalid, match="name"):
            client.get_customer(1)
