"""The public face of the HTTP API: the optional CloudFront + WAF edge, and the base URL pages link to.

With the template option ``WebhookEdge=cloudfront`` every public request reaches the API through a
CloudFront distribution whose web ACL limits each source (docs/security.md, "Webhook abuse"). CloudFront
adds a header carrying a generated secret; the webhook, connect and self-service functions refuse a
request without it, so whoever calls the API's own ``execute-api`` address directly (skipping the
per-source limits) is turned away before any table is read. Without the option nothing is checked here.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

# Lower case: API Gateway's payload 2.0 lower-cases header names.
EDGE_HEADER = "x-momentsync-edge"
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class EdgeGate:
    """Admits a request only when it carries the edge's header value (when an edge is configured)."""

    def __init__(self, expected: str | None) -> None:
        if expected is not None and len(expected) < 32:
            # A short value could be guessed; the template generates 48 characters.
            raise ValueError("the edge origin secret must be at least 32 characters")
        self._expected = expected.encode() if expected else None

    @property
    def enabled(self) -> bool:
        return self._expected is not None

    def admits(self, headers: Mapping[str, str] | None) -> bool:
        if self._expected is None:
            return True
        given = next((v for k, v in (headers or {}).items() if k.lower() == EDGE_HEADER), None)
        # compare_digest: the check's timing says nothing about how much of a guess was right.
        return given is not None and hmac.compare_digest(given.encode(), self._expected)

    @classmethod
    def from_secret(cls, secret_arn: str | None, read_secret: Callable[[str], str]) -> EdgeGate:
        """``read_secret(arn)`` returns the secret string (Secrets Manager's ``SecretString``)."""
        if not secret_arn:
            return cls(None)
        return cls(read_secret(secret_arn))


def read_edge_secret(secret_arn: str) -> str:
    """The edge secret from Secrets Manager, through Powertools (cached, 5 min)."""
    # Imported here: Powertools' parameters package (some 50 modules) matters only when the edge is on.
    from aws_lambda_powertools.utilities.parameters import get_secret

    return get_secret(secret_arn)


def refusal() -> dict[str, Any]:
    """The answer to a request that skipped the edge: 403, the same whatever was sent, no detail."""
    return {
        "statusCode": 403,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "body": json.dumps({"error": "forbidden", "message": "Use the published address of this service"}),
    }


def public_base_url(domain_name: str, forwarded_proto: str | None, configured: str | None) -> str:
    """Where pages and redirects point: the configured public address (the edge's) when there is one;
    otherwise the request's own host, always https except on the local stack, whatever
    X-Forwarded-Proto claims (a client can send that header; API Gateway serves only https)."""
    if configured:
        return configured.rstrip("/")
    host = domain_name.rsplit(":", 1)[0] if not domain_name.endswith("]") else domain_name
    local = host.lower() in _LOCAL_HOSTS
    scheme = (forwarded_proto or "http") if local else "https"
    if scheme not in ("http", "https"):
        scheme = "http"
    return f"{scheme}://{domain_name}"
