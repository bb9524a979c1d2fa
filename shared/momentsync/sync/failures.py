"""Failures nobody classified: how they are described and how often they are tried again.

An exception that is not one of ``momentsync.errors`` is a bug or an input nobody foresaw. It is
written to the transfer log with its type and a message cut short and stripped of anything that
could be a credential, tried again a few times within the same invocation (a short backoff, not
SQS's visibility timeout, so the tenant's later events wait seconds, not hours), and then
dead-lettered by the processor itself with that reason (docs/failure-handling.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Long opaque runs (tokens, keys, signatures), credentials in URLs and query strings, and
# Authorization-style headers are masked before a message is stored anywhere.
_SECRET_LIKE = re.compile(
    # An Authorization header or field: the scheme (Bearer, Basic, ...) and the credential after it.
    r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?)(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;}]+"
    r"|((?:bearer|basic)\s+)[^\s\"',;}]+"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+@"
    # A labelled credential in any notation: key=v, api_key: v, "access_token": "v", X-Api-Key: v.
    r"|([\w-]*(?:token|key|secret|passw(?:or)?d|pwd|credential|signature)s?[\"']?\s*[=:]\s*[\"']?)"
    r"[^\s&\"',;}]+"
    r"|((?<=[?&])[^=&\s]*code=)[^&\s]+"
    # The secret path segment of a webhook URL.
    r"|(/webhooks/moment/[^/\s]+/)[^/\s?#\"']+"
    r"|[A-Za-z0-9_\-+/.=~]{32,}"
)
MAX_MESSAGE_CHARS = 300


def safe_message(exc: BaseException) -> str:
    """``Type: first line of the message``, bounded and with secret-looking parts masked."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = _SECRET_LIKE.sub(_mask, text)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _mask(match: re.Match[str]) -> str:
    prefix = next((group for group in match.groups() if group), "")
    return f"{prefix}***"


@dataclass(frozen=True)
class UnexpectedRetryPolicy:
    """Attempts per delivery for an unclassified failure, and the pause before each retry."""

    attempts: int = 3
    backoff_seconds: tuple[float, ...] = (0.2, 1.0)

    def pause_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2, 3, ...)."""
        if attempt <= 1 or not self.backoff_seconds:
            return 0.0
        return self.backoff_seconds[min(attempt - 2, len(self.backoff_seconds) - 1)]
