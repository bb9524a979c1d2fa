"""Fiken API v2 connector.

- ``models``: every Fiken JSON field name (request, result and filter models named after the spec).
- ``client``: ``FikenClient``, the HTTP client (pacing, retries, error mapping, paging, Location ids).
- ``pacing``: ``RequestPacer``, one request in flight and at most 4 starts per 1.02 s per tenant.
- ``auth``: the ``TokenProvider`` protocol the client asks for bearer tokens.
- ``oauth`` / ``tokens``: Fiken's OAuth endpoints and the per-tenant token provider.
"""
