"""The tenant's own page: connection and reconnect, what is transferred, notification e-mails, the last
50 transfers with a remedy in plain words (Norwegian and English), and "send again" for failed records.

Reached through a one-time link the operator sends (`momentsync tenants page-url`); opening it (a POST,
so a mail scanner's GET spends nothing) starts a session: an HttpOnly, SameSite=Strict cookie that
expires, bound to that one tenant. Every change is CSRF-checked and audited.
"""
