"""Attack on issue 14's credential masking (sync/failures.py): short secrets in the notations an
exception message really carries. Before: an ``Authorization: Bearer <short>`` header kept the
credential (only the word ``Bearer`` was masked), and labelled values outside a query string
(``api_key=…`` at the start, ``X-Api-Key: …``, a dict repr ``'access_token': '…'``, JSON
``"apiKey": "…"``) and a webhook URL's short secret path segment were stored in clear."""

from __future__ import annotations

import pytest

from momentsync.sync.failures import safe_message

SECRET = "s3cr3tV4lue"  # short: no 32-character run to catch it


@pytest.mark.parametrize(
    "message",
    [
        f"Authorization: Bearer {SECRET}",
        f"authorization=Basic {SECRET}",
        f"headers {{'Authorization': 'Bearer {SECRET}'}}",
        f"api_key={SECRET} was refused",
        f"X-Api-Key: {SECRET}",
        f"form client_secret={SECRET}&grant_type=refresh_token",
        f"{{'access_token': '{SECRET}', 'token_type': 'bearer'}}",
        f'{{"refresh_token": "{SECRET}"}}',
        f'Moment said {{"apiKey": "{SECRET}"}}',
        f"password: {SECRET}",
        f"POST https://example.test/webhooks/moment/acme/{SECRET} failed",
        f"redirect https://connect.test/callback?state=x&code={SECRET}",
    ],
)
def test_a_short_labelled_secret_never_reaches_the_transfer_log(message):
    text = safe_message(RuntimeError(message))

    assert SECRET not in text, text
    assert "***" in text


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("KeyError: invoice_number", "invoice_number"),
        ("status code: 500 on invoice 12", "500 on invoice 12"),
        ("tokenizer: unexpected end", "unexpected end"),
    ],
)
def test_ordinary_words_that_contain_a_label_stay_readable(message, kept):
    assert kept in safe_message(RuntimeError(message))
