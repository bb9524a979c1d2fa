"""What a webhook body must satisfy before anything downstream sees it.

Every limit here guards a place where a body accepted with 202 could otherwise never succeed:

- SQS refuses message bodies with code points outside XML 1.0's character set (U+FFFE, U+FFFF,
  most C0 controls, lone surrogates); the envelope carries the body, so such a body could never be
  queued and a 503 would only invite the sender to retry forever.
- DynamoDB numbers keep 38 significant digits and magnitudes 1E-130..1E+126; the payload is kept in
  the parked table and ids in sync state and the transfer log, so numbers are held to 64-bit
  integers and finite floats of ordinary size.
- ``Infinity`` / ``NaN`` are not JSON (RFC 8259); Python's parser accepts them unless told not to.
- Nesting is bounded so no recursive walk (ours, pydantic's, boto3's) can run out of stack.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from momentsync.queue import SQS_REFUSED_CHARACTER

MAX_DEPTH = 16
MAX_STRING_CHARS = 10_000
MIN_INT = -(2**63)
MAX_INT = 2**63 - 1
# Floats: finite, and either 0 or within a magnitude DynamoDB stores exactly enough (1E-130..1E+126).
MAX_FLOAT_MAGNITUDE = 1e15
MIN_FLOAT_MAGNITUDE = 1e-15

_SQS_REFUSED = SQS_REFUSED_CHARACTER


class BodyRejected(ValueError):
    """A body that can never be processed; ``field_path`` is dotted (``customer.id``) or ``None``."""

    def __init__(self, message: str, field_path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_path = field_path


def _refuse_constant(name: str) -> Any:
    raise BodyRejected(f"{name} is not a JSON number")


def parse_json_body(raw: bytes, charset: str | None = None) -> Any:
    """Parses a webhook body and checks every limit above; raises ``BodyRejected`` with the reason.

    UTF-8 unless the Content-Type names another charset (``charset=ISO-8859-1``: an "Ærlig AS" sent
    that way was refused with 400, and a refused webhook is not sent again); a UTF-8 byte order mark
    is ignored (RFC 8259 §8.1 lets a parser ignore it). An unknown charset is read as UTF-8.
    """
    encoding = _text_encoding(charset) or "utf-8"
    if encoding == "utf-8":
        encoding = "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise BodyRejected(f"Body is not {name}: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BodyRejected(f"Body is nested deeper than {MAX_DEPTH} levels") from None
    except BodyRejected:
        raise
    except ValueError as exc:
        # JSONDecodeError, and the int parser's digit limit (a number of thousands of digits).
        raise BodyRejected(f"Body is not JSON: {str(exc)[:200]}") from None
    check_limits(value)
    return value


def _text_encoding(charset: str | None) -> str | None:
    """The codec a declared charset names; None (read as UTF-8, as before) for one Python does not know
    or that is no text encoding (``zlib``, ``rot13``: ``bytes.decode`` would raise LookupError, a 5xx)."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset.strip().strip('"'))
    except LookupError:
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def check_limits(value: Any) -> None:
    """Walks the value iteratively (no recursion of our own to exhaust) and raises on the first breach."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        where = ".".join(path) or "body"
        if depth > MAX_DEPTH:
            raise BodyRejected(f"{where}: nested deeper than {MAX_DEPTH} levels", where)
        if isinstance(node, dict):
            for key, child in node.items():
                _check_string(key, f"{where}: key", where)
                stack.append((child, (*path, key[:40]), depth + 1))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                stack.append((child, (*path, str(index)), depth + 1))
        elif isinstance(node, str):
            _check_string(node, where, where)
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if not MIN_INT <= node <= MAX_INT:
                raise BodyRejected(f"{where}: integer outside the 64-bit range", where)
        elif isinstance(node, float):
            magnitude = abs(node)
            if not math.isfinite(node) or (
                magnitude and not MIN_FLOAT_MAGNITUDE <= magnitude <= MAX_FLOAT_MAGNITUDE
            ):
                raise BodyRejected(
                    f"{where}: number outside {MIN_FLOAT_MAGNITUDE:g}..{MAX_FLOAT_MAGNITUDE:g}", where
                )


def _check_string(text: str, label: str, where: str) -> None:
    if len(text) > MAX_STRING_CHARS:
        raise BodyRejected(f"{label} is longer than {MAX_STRING_CHARS} characters", where)
    refused = _SQS_REFUSED.search(text)
    if refused:
        raise BodyRejected(
            f"{label} contains U+{ord(refused.group()):04X}, a character a queue message cannot hold",
            where,
        )
