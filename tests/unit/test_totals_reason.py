"""The flagged reason of a read-back with many differing groups (e.g. a 64-line invoice over many
accounts): cut between figures, never inside one, and saying how many were left out."""

from __future__ import annotations

import re

from momentsync.ports import InvoiceTotals
from momentsync.sync.totals import differences_reason, totals_differences


def test_a_long_list_of_differences_is_cut_between_figures_not_inside_one() -> None:
    moment = InvoiceTotals(0, 0, 0, {f"account {3000 + i} HIGH": (1234567 + i, 308642) for i in range(40)})
    target = InvoiceTotals(0, 0, 0, {f"account {3000 + i} HIGH": (1234500 + i, 308625) for i in range(40)})
    differences = totals_differences(moment, target)
    assert len(differences) == 40

    reason = differences_reason(differences)

    assert len(reason) <= 1000
    kept, more = re.fullmatch(r"totals differ: (.*); and (\d+) more", reason).groups()
    pieces = kept.split("; ")
    assert pieces == differences[: len(pieces)]  # whole figures only
    assert len(pieces) + int(more) == 40


def test_a_short_list_is_given_whole() -> None:
    assert (
        differences_reason(["Moment 1 øre vat, target 2 øre"])
        == "totals differ: Moment 1 øre vat, target 2 øre"
    )
