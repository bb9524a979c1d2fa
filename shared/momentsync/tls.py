"""One TLS context for every outbound HTTPS client of a process (Moment, Fiken, SpareBank 1).

httpx builds a new ``ssl.SSLContext`` for each ``Client``, and loading certifi's CA bundle into it
costs about 40 ms of CPU. The processor opens a Moment and a Fiken client per tenant, so every
tenant's first event in an execution environment paid that twice, inside the invocation. A context
is safe to share between clients and threads; httpx's own defaults (certifi, or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``) are kept by building it with httpx.
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import httpx


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
