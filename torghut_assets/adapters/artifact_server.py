"""A read-only HTTP server for the artifact root, so the operator's browser can open evidence artifacts.

The Dagster UI shows an artifact as `<TORGHUT_ARTIFACT_BASE_URL>/<kind>/<sha256><suffix>` and draws a PNG
plot inline only from an http(s) URL; a path on the pipeline's server means nothing to a browser. This
server is what that base URL points at: `torghut-assets artifacts serve` in `make dev`, and the same
command (or an ingress) in front of the shared artifact volume in production.

It serves content-addressed evidence files and nothing else, which is what makes it safe to expose and
what lets every answer be cached forever:

- only GET and HEAD (any other method is 405): nothing is ever written;
- only a regular file named `<sha256><suffix>` under the root: a path that tries to leave the root
  (`..`, an absolute path, a symlink resolving outside it) is 403, anything else that is not such a file
  (a directory — there is no listing —, a dotfile, a `.tmp-*` file a writer has not renamed yet, an
  unknown name) is 404;
- the name is the content's digest, so the bytes behind a URL never change: `Cache-Control: immutable`
  and the digest as the `ETag`;
- `X-Content-Type-Options: nosniff` with a type from the suffix alone, and `Access-Control-Allow-Origin:
  *` so a page served from another port (the Dagster UI) may load the files.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self, cast
from urllib.parse import unquote

_log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".png": "image/png",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
IMMUTABLE = "public, max-age=31536000, immutable"
ALLOWED_METHODS = "GET, HEAD"
STOP_POLL_SECONDS = 0.05  # how soon a background server notices `stop()` (the stdlib default is 0.5 s)
# `ArtifactStore` names every file `<sha256 hex><suffix>`; nothing else under the root is evidence.
CONTENT_ADDRESSED_NAME = re.compile(r"^(?P<sha256>[0-9a-f]{64})(?P<suffix>(\.[A-Za-z0-9_-]+)*)$")


class RefusedPath(Exception):
    """A request path that is not a served artifact, with the status that says why."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


def content_type(path: Path) -> str:
    """The type from the suffix alone (never sniffed from the bytes)."""
    return CONTENT_TYPES.get(path.suffix.lower(), DEFAULT_CONTENT_TYPE)


class ArtifactFile(NamedTuple):
    """A served file, typed and tagged by the name it was asked for (`<sha256><suffix>`)."""

    path: Path
    sha256: str
    content_type: str


def resolve_artifact(root: Path, request_path: str) -> ArtifactFile:
    """The artifact file a request path names, or `RefusedPath`.

    403 for a path that tries to leave the root; 404 for one that stays inside it but names no
    content-addressed regular file. Percent-escapes are decoded before the path is split, so `%2e%2e`
    is `..` and `%2f` a separator.
    """
    raw = request_path.split("?", 1)[0].split("#", 1)[0]
    decoded = unquote(raw, errors="strict")
    if not decoded.startswith("/") or "\x00" in decoded or "\\" in decoded:
        raise RefusedPath(HTTPStatus.FORBIDDEN)
    *folders, name = decoded[1:].split("/")
    if any(segment in ("", ".", "..") for segment in folders) or name in (".", ".."):
        raise RefusedPath(HTTPStatus.FORBIDDEN)  # `..`, `.`, or `//` (an absolute path after the root)
    named = CONTENT_ADDRESSED_NAME.match(name)
    if named is None or any(folder.startswith(".") for folder in folders):
        # A directory (no listing), a dotfile, a `.tmp-*` file not yet renamed into place, any other name.
        raise RefusedPath(HTTPStatus.NOT_FOUND)
    real_root = root.resolve()
    target = real_root.joinpath(*folders, name).resolve()
    if not target.is_relative_to(real_root):
        raise RefusedPath(HTTPStatus.FORBIDDEN)  # a symlink pointing outside the root
    if not target.is_file():
        raise RefusedPath(HTTPStatus.NOT_FOUND)
    return ArtifactFile(target, named["sha256"], content_type(Path(name)))


class _ArtifactHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.artifact_root = root
        super().__init__(address, _ArtifactRequestHandler)


class _ArtifactRequestHandler(BaseHTTPRequestHandler):
    server_version = "torghut-artifacts"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _method_not_allowed(self) -> None:
        self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, send_body=True)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_CONNECT = _method_not_allowed

    def _answer(self, *, send_body: bool) -> None:
        root = cast(_ArtifactHTTPServer, self.server).artifact_root
        try:
            path, sha256, media_type = resolve_artifact(root, self.path)
        except RefusedPath as refused:
            self._refuse(refused.status, send_body=send_body)
            return
        except UnicodeDecodeError:
            self._refuse(HTTPStatus.NOT_FOUND, send_body=send_body)
            return
        etag = f'"{sha256}"'
        if etag in _etags(self.headers.get("If-None-Match", "")):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._common_headers()
            self.send_header("ETag", etag)
            self.end_headers()
            return
        try:
            handle = path.open("rb")
        except OSError:
            self._refuse(HTTPStatus.NOT_FOUND, send_body=send_body)
            return
        with handle:
            self.send_response(HTTPStatus.OK)
            self._common_headers()
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(os.fstat(handle.fileno()).st_size))
            self.send_header("ETag", etag)
            self.send_header("Cache-Control", IMMUTABLE)
            self.end_headers()
            if send_body:
                shutil.copyfileobj(handle, self.wfile)

    def _refuse(self, status: HTTPStatus, *, send_body: bool) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self._common_headers()
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", ALLOWED_METHODS)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _common_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Access-Control-Allow-Origin", "*")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: one debug line per request, so `make dev`'s terminal stays Dagster's."""
        _log.debug("%s " + format, self.address_string(), *args)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class ArtifactServer:
    """The server on a background thread (port 0 picks a free port), for `make dev`'s CLI and the tests.

    with ArtifactServer(root) as server:
        server.base_url      # http://127.0.0.1:<port>, the value for TORGHUT_ARTIFACT_BASE_URL
    """

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root)
        self._server = _ArtifactHTTPServer((host, port), self.root)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Where this server answers; behind a wildcard bind, the local address."""
        host = str(self._server.server_address[0])
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": STOP_POLL_SECONDS},
            name="artifact-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_artifacts(
    root: Path, host: str, port: int, *, ready: Callable[[ArtifactServer], None] | None = None
) -> None:
    """Serve `root` until interrupted; `ready` sees the bound server first (to print its URL)."""
    server = ArtifactServer(root, host, port)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
