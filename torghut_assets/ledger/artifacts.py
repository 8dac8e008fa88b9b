"""Evidence artifacts: canonical JSON files named by their sha256, referenced from ledger rows.

Content addressing makes an artifact immutable and self-verifying: a reader recomputes the hash from the
bytes and compares it with the name and with the ledger's reference.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torghut_assets.domain.evidence import canonical_json


def default_artifact_root(configured_root: str | None = None) -> Path:
    """One rule for the code location and the CLI, so both read the artifacts the ledger's rows name:
    the configured root (`TORGHUT_ARTIFACT_ROOT`), else `$DAGSTER_HOME/artifacts`."""
    root = configured_root or os.environ.get("TORGHUT_ARTIFACT_ROOT")
    if root:
        return Path(root)
    return Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster_home") / "artifacts"


@dataclass(frozen=True)
class ArtifactRef:
    kind: str
    path: str
    sha256: str
    size_bytes: int

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256, "size_bytes": self.size_bytes}


class ArtifactStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def write_json(self, kind: str, payload: Any) -> ArtifactRef:
        return self._write(kind, canonical_json(payload).encode("utf-8"), ".json")

    def write_text(self, kind: str, text: str, suffix: str = ".md") -> ArtifactRef:
        return self._write(kind, text.encode("utf-8"), suffix)

    def write_bytes(self, kind: str, data: bytes, suffix: str) -> ArtifactRef:
        return self._write(kind, data, suffix)

    def _write(self, kind: str, data: bytes, suffix: str) -> ArtifactRef:
        """Write atomically (temp file + rename) so a crash never leaves a truncated artifact."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.root / kind / f"{digest}{suffix}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        return ArtifactRef(kind=kind, path=str(target), sha256=digest, size_bytes=len(data))

    @staticmethod
    def verify(ref: dict[str, Any]) -> bool:
        path = Path(str(ref["path"]))
        return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == ref["sha256"]
