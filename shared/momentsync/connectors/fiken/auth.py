"""How the Fiken client gets its bearer token; the OAuth implementation is ``tokens.FikenTokenProvider``."""

from __future__ import annotations

import threading


class StaticTokenProvider:
    """A fixed token (tests, personal-token scripts); a 401 swaps in ``refreshed_token`` if given."""

    def __init__(self, token: str, *, refreshed_token: str | None = None) -> None:
        self._token = token
        self._refreshed_token = refreshed_token
        self._lock = threading.Lock()
        self.refresh_count = 0

    def __repr__(self) -> str:
        return "StaticTokenProvider(token=<hidden>)"

    def access_token(self) -> str:
        with self._lock:
            return self._token

    def refresh_after_unauthorized(self, rejected_token: str) -> str:
        with self._lock:
            self.refresh_count += 1
            if self._refreshed_token is not None and rejected_token == self._token:
                self._token = self._refreshed_token
            return self._token
