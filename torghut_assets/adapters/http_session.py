"""Connection pooling for the HTTP adapters: an adapter either borrows the caller's `requests.Session`
(tests, or a process that shares one pool) or owns one, and closes only what it owns."""

from __future__ import annotations

from typing import Self

import requests


class PooledHttpClient:
    def __init__(self, session: requests.Session | None) -> None:
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    def close(self) -> None:
        """Release pooled connections; a caller-provided session is the caller's to close."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
