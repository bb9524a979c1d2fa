"""A small, valid one-page PDF naming the invoice: what the emulator answers for an invoice's PDF."""

from __future__ import annotations

from decimal import Decimal

from momentsync.moment.models import Invoice


def _escape(text: str) -> bytes:
    # PDF literal strings: escape the delimiters; WinAnsi covers Norwegian letters (latin-1 subset).
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1", errors="replace")


def render_pdf(lines: list[str]) -> bytes:
    """A one-page A4 PDF with ``lines`` of Helvetica text, with a correct xref table."""
    text = (
        b"BT /F1 12 Tf 56 780 Td 16 TL "
        + b" ".join(b"(" + _escape(line) + b") Tj T*" for line in lines)
        + b" ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(text)).encode() + b" >>\nstream\n" + text + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def invoice_pdf(invoice: Invoice) -> bytes:
    kind = "Kreditnota" if invoice.is_credit_note else "Faktura"
    total = f"{Decimal(invoice.total_incl_vat_ore) / 100:.2f}"
    lines = [
        f"{kind} {invoice.invoice_number}",
        f"Kunde: {invoice.customer.name or invoice.customer.customer_number or invoice.customer.id}",
        f"Fakturadato: {invoice.invoice_date}  Forfall: {invoice.due_date}",
        f"KID: {invoice.payment_id or '-'}",
        f"Sum inkl. mva: {total} {invoice.currency_code}",
    ]
    return render_pdf(lines)
