"""The rule every target shares for credit notes: never credit more than is left on the original.

Checked by each connector before its create call, from what the target itself has booked (the original
and the credit notes already on it), so a credit note above the original, or a second credit note on a
fully credited invoice, is refused with the amounts instead of being booked (or refused by the target).
"""

from __future__ import annotations

from momentsync.moment.models import Invoice


def over_credit_reason(
    credit_note: Invoice,
    original_number: str | None,
    original_gross: int,
    credited: int,
    original_currency: str | None = "NOK",
) -> str | None:
    """None when the credit note fits in what is left on the original; else why not, in øre.

    Amounts are minor units of the documents' currency: a credit note in another currency than the
    original cannot be measured against it (EUR cents are not øre) and is refused.
    """
    currency = (credit_note.currency_code or "NOK").strip().upper()
    original_in = (original_currency or "NOK").strip().upper()
    if currency != original_in:
        return (
            f"credit note {credit_note.invoice_number} is in {currency}, the invoice {original_number} "
            f"it credits is in {original_in}: what is left on it cannot be measured in another currency; "
            f"issue the credit note in {original_in} in Moment"
        )
    # What is booked are the lines; Moment's header total may say less. Either must fit.
    header = -credit_note.total_incl_vat_ore
    booked = -(credit_note.lines_excl_vat_ore + credit_note.lines_vat_ore)
    amount = max(header, booked)
    left = original_gross - credited
    if original_gross >= 0 and amount < 0:
        # Moment's credit notes carry negative amounts; a positive one would be booked as more revenue
        # (a second invoice labelled a credit), never as a credit.
        return (
            f"credit note {credit_note.invoice_number} has a positive total ({-amount} øre; it credits "
            f"{amount} øre): a credit note on invoice {original_number} must reduce it; correct the "
            "credit note in Moment (credit notes carry negative amounts)"
        )
    if original_gross < 0:
        # Crediting a credit: it moves the original back towards zero, never past it.
        if left <= amount <= 0:
            return None
    elif amount <= left:
        return None
    disagree = f" (its header says {header} øre, its lines {booked} øre)" if header != booked else ""
    return (
        f"credit note {credit_note.invoice_number} credits {amount} øre{disagree}, more than is left on "
        f"invoice {original_number}: {left} øre of {original_gross} øre ({credited} øre already credited); "
        "correct the credit note in Moment"
    )
