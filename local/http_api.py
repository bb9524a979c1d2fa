"""A local stand-in for API Gateway's HTTP API: routes from template.yaml, payload format 2.0.

Like the real HTTP API it never logs the request path (a webhook path carries the tenant's secret):
only the route key, the status and the latency.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

log = logging.getLogger("momentsync.local.http_api")
_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")
MAX_BODY_BYTES = 10 * 1024 * 1024  # the HTTP API's own payload limit


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[dict[str, Any], str], dict[str, Any]]  # (event, route key) -> v2 response

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def build_event(
    route: Route,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
    content_type = headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    try:
        text_body = body.decode() if is_text else None
    except UnicodeDecodeError:
        text_body = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": path_params,
        "isBase64Encoded": text_body is None,
        "body": text_body if text_body is not None else base64.b64encode(body).decode(),
    }
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    return event


class LocalHttpApi:
    def __init__(self, routes: list[Route], host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes = routes
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see emulators/common/server.py

            def _serve(self) -> None:
                started = time.monotonic()
                parts = urlsplit(self.path)
                route, params = api.find(self.command, parts.path)
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(
                        {"statusCode": 413, "body": json.dumps({"message": "Request Entity Too Large"})}
                    )
                    return
                body = self.rfile.read(length) if length else b""
                if route is None:
                    self._reply({"statusCode": 404, "body": json.dumps({"message": "Not Found"})})
                    log.info("no route", extra={"method": self.command, "status": 404})
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                event = build_event(
                    route,
                    self.command,
                    parts.path,
                    parts.query,
                    headers,
                    body,
                    params,
                    self.client_address[0],
                )
                try:
                    response = route.handler(event, route.route_key)
                except Exception:  # noqa: BLE001 - the real API answers 500 when the integration fails
                    log.exception("integration failed", extra={"route": route.route_key})
                    response = {"statusCode": 500, "body": json.dumps({"message": "Internal Server Error"})}
                self._reply(response)
                log.info(
                    "%s %s %.1f ms",
                    route.route_key,
                    response.get("statusCode"),
                    (time.monotonic() - started) * 1000,
                )

            def _reply(self, response: dict[str, Any]) -> None:
                body = response.get("body") or ""
                payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
                self.send_response(int(response.get("statusCode", 200)))
                headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
                headers.setdefault("content-type", "application/json")
                for key, value in headers.items():
                    if key != "content-length":
                        self.send_header(key, str(value))
                for cookie in response.get("cookies") or []:
                    self.send_header("set-cookie", cookie)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Silenced: the default prints the raw path, which holds webhook secrets."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="local-http-api")

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, {}

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
