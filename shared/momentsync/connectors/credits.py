"""The rule every target shares for credit notes: never credit more than is left on the original.

Checked by each connector before its create call, from what the target itself has booked (the original
and the credit notes already on it), so a credit note above the original, or a second credit note on a
fully credited invoice, is refused with the amounts instead of being booked (or refused by the target).
"""

from __future__ import annotations

from momentsync.moment.models import Invoice


def over_credit_reason(
    credit_note: Invoice, original_number: str | None, original_gross: int, credited: int
) -> str | None:
    """None when the credit note fits in what is left on the original; else why not, in øre."""
    amount = -credit_note.total_incl_vat_ore
    left = original_gross - credited
    if amount <= left:
        return None
    return (
        f"credit note {credit_note.invoice_number} credits {amount} øre, more than is left on invoice "
        f"{original_number}: {left} øre of {original_gross} øre ({credited} øre already credited); "
        "correct the credit note in Moment"
    )
