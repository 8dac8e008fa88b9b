"""An evidence pack as one file: written deterministically, read back defensively, verified offline.

The archive is a `.tar.gz` (the default) or a `.zip`, chosen by the file name. Members are written in
sorted order with fixed timestamps, owners and modes, and the gzip header carries no time, so the same
pack contents always give the same bytes. Reading accepts regular files with plain relative names only,
within a size budget, so a hostile archive cannot write anywhere or exhaust memory.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from torghut_assets.domain.evidence_chain import PublishedHead
from torghut_assets.domain.evidence_pack import PackCheck, PackFailure, PackReport, verify_pack

FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z: every member's time, so packs are reproducible
ZIP_TIME = (2000, 1, 1, 0, 0, 0)
MAX_MEMBERS = 200_000
MAX_TOTAL_BYTES = 4 * 1024**3


class PackUnreadableError(ValueError):
    """The file is not an evidence pack archive this tool can read."""


def is_zip(path: Path) -> bool:
    return path.suffix.lower() == ".zip"


def archive_bytes(members: Mapping[str, bytes], *, zip_format: bool = False) -> bytes:
    """The archive of `members` (path → bytes): sorted, fixed times, no owner, mode 0644."""
    buffer = io.BytesIO()
    if zip_format:
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                archive.writestr(info, members[name])
        return buffer.getvalue()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name in sorted(members):
            data = members[name]
            member = tarfile.TarInfo(name)
            member.size, member.mtime, member.mode = len(data), FIXED_MTIME, 0o644
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def write_archive(path: Path, members: Mapping[str, bytes]) -> None:
    """Write the archive next to `path`, then move it into place (no half-written pack)."""
    data = archive_bytes(members, zip_format=is_zip(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)


def _safe_name(name: str) -> str:
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name or name != pure.as_posix():
        raise PackUnreadableError(f"member {name!r} is not a plain relative path")
    return name


def _budget(count: int, total: int) -> None:
    if count > MAX_MEMBERS or total > MAX_TOTAL_BYTES:
        raise PackUnreadableError(f"more than {MAX_MEMBERS} members or {MAX_TOTAL_BYTES} bytes")


def read_archive(path: Path) -> dict[str, bytes]:
    """The archive's members (path → bytes); PackUnreadableError for anything else."""
    try:
        head = path.read_bytes()[:4]
    except OSError as exc:
        raise PackUnreadableError(f"{path}: {exc.strerror}") from exc
    members: dict[str, bytes] = {}
    total = 0
    try:
        if head.startswith(b"PK"):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if info.is_dir():
                        continue
                    total += info.file_size
                    _budget(len(members) + 1, total)
                    members[_safe_name(info.filename)] = archive.read(info)
        else:
            with tarfile.open(path, mode="r:*") as archive:
                for tar_info in archive:
                    if tar_info.isdir():
                        continue
                    if not tar_info.isreg():
                        raise PackUnreadableError(f"member {tar_info.name!r} is not a regular file")
                    total += tar_info.size
                    _budget(len(members) + 1, total)
                    extracted = archive.extractfile(tar_info)
                    if extracted is None:
                        raise PackUnreadableError(f"member {tar_info.name!r} cannot be read")
                    members[_safe_name(tar_info.name)] = extracted.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PackUnreadableError(f"{path}: not a .tar.gz or .zip evidence pack ({exc})") from exc
    return members


def verify_pack_file(path: Path, published_heads: Sequence[PublishedHead] = ()) -> PackReport:
    """Verify the pack in `path` offline (no database, no network)."""
    try:
        members = read_archive(path)
    except PackUnreadableError as exc:
        return PackReport((PackFailure(PackCheck.PACK_UNREADABLE, str(path), str(exc)),))
    return verify_pack(members, published_heads)
