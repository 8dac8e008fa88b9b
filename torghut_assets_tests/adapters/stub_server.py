"""The lifecycle every HTTP stub in the tests shares, so each stub module is only its endpoints.

    @dataclass
    class EchoStub(StubServer[str]):       # str: what `_queue` / `_next_scripted` hold
        def _handler_class(self) -> type[BaseHTTPRequestHandler]: ...

    with EchoStub() as stub:               # serves on 127.0.0.1 at an ephemeral port, from a daemon thread
        stub.base_url                      # http://127.0.0.1:<port>; raises outside the `with`

Leaving the `with` sets `stopping` before shutting the server down: a handler that simulates a slow
answer waits on that event rather than sleeping, so it returns at once and shutdown never waits out
a delay. The server state is made of `init=False` fields, so a stub dataclass keeps its own
constructor fields, in their order.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Self, TypeVar

T = TypeVar("T")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass(eq=False)
class StubServer(Generic[T]):
    """A stub HTTP server's start, stop and one-shot script; subclasses supply the request handler."""

    quiet_errors: ClassVar[bool] = False
    """True for stubs whose clients are meant to hang up mid-answer: the tracebacks would be noise."""

    stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _script: deque[T] = field(default_factory=deque, init=False, repr=False, compare=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False, compare=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _queue(self, *items: T) -> None:
        with self._lock:
            self._script.extend(items)

    def _next_scripted(self, default: T) -> T:
        """The oldest queued one-shot item, else `default` (the stub's standing behaviour)."""
        with self._lock:
            return self._script.popleft() if self._script else default

    def __enter__(self) -> Self:
        server_class = _QuietServer if self.quiet_errors else ThreadingHTTPServer
        self._server = server_class(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class StubRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive without Nagle delays, silent logs, and one way to read and answer."""

    protocol_version = "HTTP/1.1"
    content_type: ClassVar[str] = "application/json"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        """The body as JSON; as text when it is not JSON (recorded as sent); None when empty."""
        raw = self._body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
