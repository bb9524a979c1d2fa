"""Reading a cookie from an HTTP API (payload 2.0) request, for the connect and self-service handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2


def request_cookie(event: APIGatewayProxyEventV2, name: str) -> str | None:
    """Payload 2.0 lifts cookies into their own list;
    a plain Cookie header is read too."""
    pairs = list(event.cookies or [])
    header = event.headers.get("cookie")
    if header:
        pairs += header.split(";")
    for pair in pairs:
        key, _, value = pair.strip().partition("=")
        if key == name and value:
            return value
    return None
