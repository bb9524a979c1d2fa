"""Comparing what Moment invoiced with what the target booked: every figure that differs, in øre."""

from __future__ import annotations

from momentsync.ports import InvoiceTotals


def totals_differences(moment: InvoiceTotals, target: InvoiceTotals) -> list[str]:
    """Every figure that differs, with both values (øre); groups compared when the target names them."""
    problems = []
    for name in ("gross", "net", "vat"):
        mine, theirs = getattr(moment, name), getattr(target, name)
        if mine != theirs:
            label = "incl. VAT" if name == "gross" else name
            problems.append(f"Moment {mine} øre {label}, target {theirs} øre")
    if moment.gross_nok is not None and target.gross_nok is not None and moment.gross_nok != target.gross_nok:
        problems.append(
            f"in NOK: Moment {moment.gross_nok} øre at Moment's exchange rate, target {target.gross_nok} øre "
            "at its own rate"
        )
    if target.groups or moment.groups:
        booked = {key: value for key, value in target.groups.items() if value != (0, 0)}
        wanted = {key: value for key, value in moment.groups.items() if value != (0, 0)}
        for key in sorted(set(booked) | set(wanted)):
            mine, theirs = wanted.get(key, (0, 0)), booked.get(key, (0, 0))
            if mine != theirs:
                problems.append(
                    f"{key}: Moment net {mine[0]} / VAT {mine[1]} øre, "
                    f"target net {theirs[0]} / VAT {theirs[1]} øre"
                )
    return problems


def differences_reason(differences: list[str], limit: int = 1000) -> str:
    """``totals differ: …`` within ``limit`` characters, cut between figures, never inside one (a cut
    "Moment net 12" would read as a figure), saying how many were left out."""
    reason = "totals differ: " + "; ".join(differences)
    if len(reason) <= limit:
        return reason
    room = limit - len("; and 9999 more")
    kept = "totals differ: " + differences[0]
    count = 1
    for difference in differences[1:]:
        if len(kept) + 2 + len(difference) > room:
            break
        kept += f"; {difference}"
        count += 1
    return f"{kept[:room]}; and {len(differences) - count} more"
