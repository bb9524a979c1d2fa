"""Moment's thin webhooks: what is synced, what is ignored, and clear errors for anything else."""

from __future__ import annotations

import pytest

from momentsync.moment.webhooks import WebhookInvoiceRef, WebhookPayloadError, parse_webhook

DOCUMENTED_INVOICE = {
    "event": "CREATE_NEW",
    "invoice": {
        "id": 106939080,
        "invoiceNumber": 1,
        "customer": {"id": 62788973, "customerNumber": "10001"},
        "project": {"id": 62788980, "projectNumber": "1"},
    },
}


def test_documented_invoice_example():
    parsed = parse_webhook(DOCUMENTED_INVOICE)
    assert (parsed.kind, parsed.entity_id, parsed.event) == ("invoice", 106939080, "CREATE_NEW")
    assert parsed.entity_type == "invoice" and not parsed.ignored
    assert isinstance(parsed.ref, WebhookInvoiceRef)
    assert parsed.ref.customer.customer_number == "10001" and parsed.ref.project.project_number == "1"


@pytest.mark.parametrize(
    ("body", "kind", "entity_id"),
    [
        ({"event": "UPDATE", "customer": {"id": 62788973, "customerNumber": "10001"}}, "customer", 62788973),
        (
            {"event": "CREATE_NEW", "project": {"id": 5, "projectNumber": "1", "customer": {"id": 1}}},
            "project",
            5,
        ),
        ({"event": "X", "invoice": {"id": 9}}, "invoice", 9),
    ],
)
def test_synced_kinds(body, kind, entity_id):
    parsed = parse_webhook(body)
    assert parsed.kind == kind and parsed.entity_id == entity_id and parsed.entity_type == kind


@pytest.mark.parametrize("kind", ["offer", "claim"])
def test_offer_and_claim_are_recognised_and_ignored(kind):
    parsed = parse_webhook({"event": "CREATE_NEW", kind: {"id": 77, "whatever": [1, 2]}})
    assert parsed.ignored and parsed.kind == kind and parsed.entity_type is None and parsed.entity_id == 77


def test_unknown_events_and_extra_fields_are_accepted():
    parsed = parse_webhook({"event": "SOMETHING_NEW_2030", "customer": {"id": 1, "extra": True}, "ts": 1})
    assert parsed.event == "SOMETHING_NEW_2030"


def test_nested_parts_are_informative_only():
    # A partial nested customer must not cost us the notification: only the top-level id matters.
    parsed = parse_webhook(
        {"event": "CREATE_NEW", "invoice": {"id": 3, "customer": {"customerNumber": 10001}}}
    )
    assert parsed.entity_id == 3 and parsed.ref.customer.customer_number == "10001"


@pytest.mark.parametrize(
    ("body", "field", "message_part"),
    [
        ({"event": "CREATE_NEW", "customer": {}}, "customer.id", "required"),
        ({"event": "CREATE_NEW", "customer": {"id": "123"}}, "customer.id", "integer"),
        ({"event": "CREATE_NEW", "invoice": {"id": 1.0}}, "invoice.id", "integer"),
        ({"event": "CREATE_NEW", "invoice": {"id": True}}, "invoice.id", "integer"),
        ({"event": "CREATE_NEW", "invoice": {"id": 0}}, "invoice.id", "greater than 0"),
        ({"event": "CREATE_NEW", "invoice": {"id": -4}}, "invoice.id", "greater than 0"),
        ({"event": "CREATE_NEW", "project": [1]}, "project", "object"),
        ({"customer": {"id": 1}}, "event", "required"),
        ({"event": "", "customer": {"id": 1}}, "event", "at least 1"),
        ({"event": None, "customer": {"id": 1}}, "event", "string"),
        ({"event": "CREATE_NEW"}, None, "found none"),
        (
            {"event": "CREATE_NEW", "customer": {"id": 1}, "project": {"id": 2}},
            None,
            "found customer, project",
        ),
        ({"event": "CREATE_NEW", "invoice": {"id": 1, "customer": "10001"}}, "invoice.customer", ""),
    ],
)
def test_malformed_bodies_name_the_field(body, field, message_part):
    with pytest.raises(WebhookPayloadError) as exc:
        parse_webhook(body)
    assert exc.value.field_path == field
    assert message_part in exc.value.message
    if field:
        assert exc.value.message.startswith(field)


@pytest.mark.parametrize("body", [None, [], "CREATE_NEW", 5])
def test_non_objects_are_rejected(body):
    with pytest.raises(WebhookPayloadError, match="JSON object"):
        parse_webhook(body)
