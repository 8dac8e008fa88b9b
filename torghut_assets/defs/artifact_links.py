"""How an evidence artifact appears in the Dagster UI: a link a browser can open, never a server path.

Artifacts are content-addressed files under the artifact root (`ledger/artifacts.py`). A path on the
server that runs the pipeline means nothing to the operator's browser, so the UI shows an artifact as:

- a URL under `TORGHUT_ARTIFACT_BASE_URL` when one is configured (`make dev` serves the root with
  `torghut-assets artifacts serve`; production puts the same read-only server or an ingress in front of
  the shared artifact volume), and a PNG plot as an inline image;
- otherwise its path relative to the artifact root and its sha256, which `torghut-assets evidence`
  and an auditor can resolve, and (for the callers that have it) its content in the metadata itself.

Dagster renders a markdown value inline only when it is shorter than 1,000 characters and its images
are http(s) URLs (data URIs are dropped), which is why plots are served rather than embedded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from torghut_assets.ledger.artifacts import ArtifactRef

INLINE_MARKDOWN_LIMIT = 1000


def relative_artifact_path(root: Path, ref: ArtifactRef | Mapping[str, Any]) -> str:
    """The artifact's path under the root (`kind/<sha256>.<suffix>`), with forward slashes."""
    path = Path(str(ref.path if isinstance(ref, ArtifactRef) else ref["path"]))
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def artifact_url(base_url: str | None, root: Path, ref: ArtifactRef | Mapping[str, Any]) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/{relative_artifact_path(root, ref)}"


def artifact_link(base_url: str | None, root: Path, ref: ArtifactRef | Mapping[str, Any]) -> dg.MetadataValue:
    """A clickable URL when the root is served, else the relative path and digest as plain text."""
    url = artifact_url(base_url, root, ref)
    if url is not None:
        return dg.MetadataValue.url(url)
    sha = ref.sha256 if isinstance(ref, ArtifactRef) else str(ref["sha256"])
    return dg.MetadataValue.text(
        f"{relative_artifact_path(root, ref)} (sha256 {sha[:12]}…; not served: set TORGHUT_ARTIFACT_BASE_URL)"
    )


def inline_image(
    base_url: str | None, root: Path, ref: ArtifactRef | Mapping[str, Any], alt: str
) -> dg.MetadataValue:
    """A served PNG as markdown the asset page draws inline; without a served root, where to find it."""
    url = artifact_url(base_url, root, ref)
    if url is None:
        return artifact_link(base_url, root, ref)
    markdown = f"![{alt}]({url})"
    if len(markdown) >= INLINE_MARKDOWN_LIMIT:
        return dg.MetadataValue.url(url)
    return dg.MetadataValue.md(markdown)
