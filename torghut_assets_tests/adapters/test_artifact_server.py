"""The artifact server serves content-addressed evidence files read-only, and nothing else under or beyond
its root (torghut_assets/adapters/artifact_server.py)."""

from __future__ import annotations

import hashlib
import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from torghut_assets.adapters.artifact_server import ArtifactServer
from torghut_assets.cli import build_parser
from torghut_assets.defs.artifact_links import artifact_url
from torghut_assets.ledger.artifacts import ArtifactRef, ArtifactStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BIN = Path(sys.executable).parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def server(root: Path) -> Iterator[ArtifactServer]:
    with ArtifactServer(root) as running:
        yield running


def get(
    server: ArtifactServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """The request line exactly as written: no client-side normalisation of `..` or escapes."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def url_path(root: Path, ref: ArtifactRef) -> str:
    return "/" + Path(ref.path).relative_to(root).as_posix()


def test_a_written_plot_is_served_as_png_with_its_digest_as_etag_and_immutable_caching(
    root: Path, server: ArtifactServer
) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")

    status, headers, body = get(server, url_path(root, ref))

    assert status == 200
    assert body == PNG
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Length"] == str(len(PNG))
    assert headers["ETag"] == f'"{ref.sha256}"'
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("suffix", "media_type"),
    [
        (".json", "application/json"),
        (".md", "text/markdown; charset=utf-8"),
        (".csv", "application/octet-stream"),
    ],
)
def test_the_media_type_follows_the_suffix_and_anything_unknown_is_a_download(
    root: Path, server: ArtifactServer, suffix: str, media_type: str
) -> None:
    ref = ArtifactStore(root).write_bytes("reports", b"<script>alert(1)</script>", suffix)

    status, headers, _ = get(server, url_path(root, ref))

    assert (status, headers["Content-Type"]) == (200, media_type)


def test_head_answers_the_headers_of_get_without_the_body(root: Path, server: ArtifactServer) -> None:
    ref = ArtifactStore(root).write_json("gate_reports", {"verdict": "pass"})

    status, headers, body = get(server, url_path(root, ref), method="HEAD")

    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(ref.size_bytes)
    assert headers["ETag"] == f'"{ref.sha256}"'


def test_a_browser_holding_the_digest_gets_not_modified(root: Path, server: ArtifactServer) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")

    status, _, body = get(server, url_path(root, ref), headers={"If-None-Match": f'"{ref.sha256}"'})

    assert (status, body) == (304, b"")


@pytest.mark.parametrize(
    "path",
    [
        "/../outside/{name}",
        "/%2e%2e/outside/{name}",
        "/plots/%2E%2E/..%2foutside/{name}",
        "/%2F{outside}/{name}",
    ],
)
def test_a_path_that_tries_to_leave_the_root_is_forbidden(
    tmp_path: Path, root: Path, server: ArtifactServer, path: str
) -> None:
    ArtifactStore(root).write_bytes("plots", PNG, ".png")
    secret = ArtifactStore(tmp_path / "outside").write_bytes("", b"not evidence", ".json")
    name = Path(secret.path).name
    outside = (tmp_path / "outside").as_posix().lstrip("/")

    status, _, body = get(server, path.format(name=name, outside=outside))

    assert status == 403
    assert b"not evidence" not in body


def test_an_absolute_path_is_looked_up_under_the_root_never_at_the_filesystem_root(
    tmp_path: Path, server: ArtifactServer
) -> None:
    secret = ArtifactStore(tmp_path / "outside").write_bytes("", b"not evidence", ".json")

    status, _, body = get(server, "/" + secret.path)

    assert status == 404
    assert b"not evidence" not in body


def test_a_symlink_that_resolves_outside_the_root_is_forbidden(
    tmp_path: Path, root: Path, server: ArtifactServer
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text("not evidence")
    link = root / "plots" / f"{hashlib.sha256(b'x').hexdigest()}.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)

    status, _, body = get(server, f"/plots/{link.name}")

    assert status == 403
    assert b"not evidence" not in body


@pytest.mark.parametrize("path", ["/", "/plots", "/plots/"])
def test_a_directory_is_never_listed(root: Path, server: ArtifactServer, path: str) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")

    status, _, body = get(server, path)

    assert status == 404
    assert ref.sha256.encode() not in body


@pytest.mark.parametrize("name", [".tmp-k3j2h1", ".env", f".{'a' * 64}.png"])
def test_a_temp_file_or_dotfile_is_not_served(root: Path, server: ArtifactServer, name: str) -> None:
    (root / "plots").mkdir(parents=True)
    (root / "plots" / name).write_bytes(PNG)

    status, _, _ = get(server, f"/plots/{name}")

    assert status == 404


def test_a_file_not_named_by_its_digest_is_not_served(root: Path, server: ArtifactServer) -> None:
    (root / "data-docs").mkdir(parents=True)
    (root / "data-docs" / "index.html").write_text("<html></html>")

    status, _, _ = get(server, "/data-docs/index.html")

    assert status == 404


def test_an_unknown_artifact_is_not_found(server: ArtifactServer) -> None:
    status, _, _ = get(server, f"/plots/{'0' * 64}.png")

    assert status == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_allowed(root: Path, server: ArtifactServer, method: str) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")

    status, headers, _ = get(server, url_path(root, ref), method=method)

    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert Path(ref.path).read_bytes() == PNG


def test_the_url_the_ui_links_for_an_artifact_is_the_one_the_server_serves(
    root: Path, server: ArtifactServer
) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")
    url = artifact_url(server.base_url, root, ref)
    assert url is not None and url.startswith(f"{server.base_url}/")

    status, headers, body = get(server, url.removeprefix(server.base_url))

    assert (status, headers["Content-Type"], body) == (200, "image/png", PNG)


def test_the_cli_parses_artifacts_serve_with_its_defaults_and_options() -> None:
    defaults = build_parser().parse_args(["artifacts", "serve"])
    chosen = build_parser().parse_args(
        ["artifacts", "serve", "--host", "0.0.0.0", "--port", "8080", "--root", "/srv/artifacts"]
    )

    assert (defaults.host, defaults.port, defaults.root) == ("127.0.0.1", 3001, None)
    assert (chosen.host, chosen.port, chosen.root) == ("0.0.0.0", 8080, "/srv/artifacts")


def test_the_cli_prints_the_base_url_it_serves_the_root_at(root: Path) -> None:
    ref = ArtifactStore(root).write_bytes("plots", PNG, ".png")
    command = [str(BIN / "torghut-assets"), "artifacts", "serve", "--port", "0", "--root", str(root)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        process.stdout.readline()
        setting = process.stdout.readline()
        base_url = setting.split("=", 1)[1].split()[0]
        port = int(base_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", url_path(root, ref))
        response = connection.getresponse()

        assert setting.startswith("TORGHUT_ARTIFACT_BASE_URL=http://127.0.0.1:")
        assert (response.status, response.read()) == (200, PNG)
    finally:
        process.terminate()
        process.wait(timeout=10)
