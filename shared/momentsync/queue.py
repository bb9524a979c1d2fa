"""The event queue (SQS FIFO): one message group per tenant, so a tenant has one event in flight."""

from __future__ import annotations

import re

# The characters SQS accepts in a message body and attributes (XML 1.0 Char): #x9 | #xA | #xD |
# #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. SendMessage refuses anything else.
SQS_REFUSED_CHARACTER = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def sqs_safe_text(text: str) -> str:
    """``text`` with every character SQS refuses replaced by U+FFFD (for reasons built from data)."""
    return SQS_REFUSED_CHARACTER.sub("\ufffd", text)
