"""One TLS context for the per-tenant HTTPS clients of a process (Moment, Fiken, SpareBank 1).

httpx builds a fresh SSL context for every ``Client`` it makes, loading the whole CA bundle: about 20 ms
of CPU each (measured for issue 18 on the bench machine; 0.1 ms with a shared context) and the memory of
another bundle. Clients are made per tenant, so an execution environment serving many tenants paid that
for each of them, twice (Moment and Fiken). An ``ssl.SSLContext`` may be shared by clients and threads:
each connection gets its own SSL object from it. Built as httpx builds its default (certifi's bundle,
``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured), so verification is exactly what it was.
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def client_tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
