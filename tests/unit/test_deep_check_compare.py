"""What the deep check calls drift: only what the link recorded and the books say differently."""

from __future__ import annotations

from momentsync.reconcile.deep_check import compare, describe
from momentsync.sync.sync_state import SyncLink


def link(**fields) -> SyncLink:
    return SyncLink(tenant_id="t", entity_type="invoice", moment_id=5, remote_id="77", **fields)


def test_the_same_number_and_gross_is_no_drift():
    assert (
        compare(
            "invoice",
            link(remote_number="10001", details={"gross": 1250}),
            {"number": "10001", "gross": 1250},
        )
        == []
    )


def test_what_the_link_never_recorded_is_not_called_different():
    # Links written before the gross was kept, or a contact Fiken gave no number: nothing to compare.
    assert compare("invoice", link(), {"number": "10001", "gross": 999}) == []
    assert compare("customer", link(remote_number="10001"), {"number": None}) == []


def test_missing_and_different_keep_both_values_in_ore():
    [missing] = compare("invoice", link(), None)
    assert (missing["kind"], missing["ours"], missing["target"]) == ("missing", "77", None)
    assert "not re-created" in describe(missing)
    drift = compare(
        "invoice", link(remote_number="10001", details={"gross": 1250}), {"number": "10002", "gross": 1251}
    )
    assert [(d["field"], d["ours"], d["target"]) for d in drift] == [
        ("number", "10001", "10002"),
        ("gross", 1250, 1251),
    ]
    assert all(isinstance(d["target"], int) for d in drift if d["field"] == "gross")


def test_a_voucher_reversed_in_the_books_is_different_in_state():
    [drift] = compare("invoice", link(remote_number="5-2025"), {"number": "5-2025", "state": "reversed"})
    assert (drift["field"], drift["ours"], drift["target"]) == ("state", "booked", "reversed")
    assert "'reversed' in the books, 'booked' when we wrote it" in describe(drift)
    assert compare("invoice", link(), {"number": "5-2025", "state": "booked"}) == []
