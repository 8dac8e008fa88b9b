"""The repository explains itself: no pointer to a document outside it, and no dead link inside it.

Every rule the code cites lives in a page under docs/ (the reference implementation, proompteng/lab
`services/torghut/` at 18622cbe3a, is named where a rule comes from it). This test fails on:

- a path into a sibling checkout (`../` followed by `shared`) or the name of the old outside design
  document (`domain` + `.md`), anywhere in the repository's own files;
- a bare section citation (the section sign followed by a number), which points at a document nobody
  can open from here; cite the doc page and its section name instead;
- a reference to an architecture page other than the repository's own docs/architecture.md;
- a relative markdown link in docs/ or README.md whose target file (or heading anchor) does not exist;
- a docs/<page>.md named anywhere in the repository's own files that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED_DIRS = ("torghut_assets", "torghut_assets_tests", "docs", "bench", "deploy", ".ci")
SCANNED_FILES = (
    "README.md",
    "Makefile",
    "Dockerfile",
    "pyproject.toml",
    "setup.cfg",
    "dagster.yaml",
    "workspace.yaml",
    ".pre-commit-config.yaml",
)
SKIPPED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "node_modules"}
)
# Spelled in pieces so that this file does not trip its own rules.
SECTION_SIGN = "\u00a7"
BANNED = {
    "../" + "shared": "a path into a checkout outside this repository",
    "domain" + ".md": "the old outside design document; cite a page under docs/",
}
BARE_SECTION = re.compile(SECTION_SIGN + r"\s*\d")
ARCH_PAGE = "architecture" + ".md"
ARCHITECTURE = re.compile(r"(?P<path>[\w./-]*)" + re.escape(ARCH_PAGE))
DOCS_PAGE = re.compile(r"(?<![\w./-])docs/(?P<page>[\w.-]+\.md)")
MD_LINK = re.compile(r"(?<!!)\[(?:[^\]\\]|\\.)*\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
MD_IMAGE = re.compile(r"!\[(?:[^\]\\]|\\.)*\]\((?P<target><[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\)")
MD_REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(?P<target>\S+)", re.MULTILINE)
FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def repository_files() -> Iterator[Path]:
    """The repository's own text files (no virtualenv, caches, build metadata or binaries)."""
    for name in SCANNED_FILES:
        path = ROOT / name
        if path.is_file():
            yield path
    for top in SCANNED_DIRS:
        base = ROOT / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel_parts = path.relative_to(ROOT).parts
            if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in rel_parts):
                continue
            if path.is_file():
                yield path


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def outside_references(path: Path, text: str) -> list[str]:
    found = []
    for needle, why in BANNED.items():
        start = text.find(needle)
        while start != -1:
            found.append(f"{rel(path)}:{line_of(text, start)}: {needle!r}: {why}")
            start = text.find(needle, start + 1)
    for match in BARE_SECTION.finditer(text):
        found.append(
            f"{rel(path)}:{line_of(text, match.start())}: bare section citation {match.group()!r}; "
            "cite the docs/ page and its section name"
        )
    in_docs = rel(path).startswith("docs/")
    for match in ARCHITECTURE.finditer(text):
        prefix = match.group("path")
        if prefix.endswith("docs/") and not prefix.endswith("../docs/"):
            continue
        if in_docs and prefix in ("", "./"):
            continue
        found.append(
            f"{rel(path)}:{line_of(text, match.start())}: {match.group()!r} is not this repository's "
            "docs/architecture.md"
        )
    return found


def without_code(markdown: str) -> str:
    """Markdown with fenced blocks and inline code blanked (same length, so offsets keep their lines)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group())

    return INLINE_CODE.sub(blank, FENCE.sub(blank, markdown))


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", markdown).splitlines():
        heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(path: Path, text: str) -> list[str]:
    problems = []
    prose = without_code(text)
    targets = [
        (m.start(), m.group("target"))
        for pattern in (MD_LINK, MD_IMAGE, MD_REFERENCE_DEF)
        for m in pattern.finditer(prose)
    ]
    for offset, raw in sorted(targets):
        target = raw.strip("<>")
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        where = f"{rel(path)}:{line_of(text, offset)}: link {raw!r}"
        dest = path if not file_part else (path.parent / file_part).resolve()
        if not dest.is_relative_to(ROOT):
            problems.append(f"{where} leaves the repository")
            continue
        if not dest.exists():
            problems.append(f"{where}: {rel(dest)} does not exist")
            continue
        if anchor and dest.suffix == ".md" and anchor.lower() not in heading_anchors(dest.read_text()):
            problems.append(f"{where}: {rel(dest)} has no heading with anchor #{anchor}")
    return problems


def test_the_scan_sees_the_repository() -> None:
    seen = {rel(p) for p in repository_files()}
    assert "README.md" in seen
    assert "docs/promotion.md" in seen
    assert "torghut_assets/domain/gates.py" in seen
    assert Path(__file__).resolve().relative_to(ROOT).as_posix() in seen


def test_no_reference_to_a_document_outside_the_repository() -> None:
    found = []
    for path in repository_files():
        text = text_of(path)
        if text is not None:
            found += outside_references(path, text)
    assert not found, "references outside the repository:\n" + "\n".join(found)


def test_relative_markdown_links_resolve() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = []
    for path in pages:
        if path.is_file():
            found += broken_links(path, path.read_text())
    assert not found, "dead links:\n" + "\n".join(found)


def test_named_doc_pages_exist() -> None:
    found = []
    for path in repository_files():
        text = text_of(path)
        if text is None or path == Path(__file__).resolve():  # its examples name pages that do not exist
            continue
        for match in DOCS_PAGE.finditer(text):
            if not (ROOT / "docs" / match.group("page")).is_file():
                found.append(f"{rel(path)}:{line_of(text, match.start())}: {match.group()} does not exist")
    assert not found, "pages named but missing:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("torghut_assets/x.py", "see " + "../" + "shared/notes", 1),
        ("torghut_assets/x.py", "see " + "domain" + ".md", 1),
        ("torghut_assets/x.py", "(" + SECTION_SIGN + "10.3)", 1),
        ("torghut_assets/x.py", "the sign " + SECTION_SIGN + " alone", 0),
        ("torghut_assets/x.py", "docs/architecture.md", 0),
        ("torghut_assets/x.py", "../docs/" + ARCH_PAGE, 1),
        ("torghut_assets/x.py", "design/" + ARCH_PAGE, 1),
        ("docs/x.md", f"[layers]({ARCH_PAGE})", 0),
        ("README.md", ARCH_PAGE, 1),
    ],
)
def test_outside_reference_rules(path: str, text: str, expected: int) -> None:
    assert len(outside_references(ROOT / path, text)) == expected


def test_link_rules() -> None:
    page = ROOT / "docs" / "promotion.md"
    links = "[a](routing.md) [b](https://example.com) [c](#gate-aggregation-domaingatespy)"
    assert broken_links(page, links) == []
    assert broken_links(page, "[c](#no-such-heading)") == [
        "docs/promotion.md:1: link '#no-such-heading': docs/promotion.md has no heading with anchor "
        "#no-such-heading"
    ]
    assert broken_links(ROOT / "docs" / "promotion.md", "[a](nowhere.md)")[0].endswith(
        "docs/nowhere.md does not exist"
    )
    assert broken_links(ROOT / "docs" / "promotion.md", "`[a](nowhere.md)`\n```\n[b](gone.md)\n```") == []
    assert broken_links(ROOT / "docs" / "promotion.md", "[a](../../outside.md)")[0].endswith(
        "leaves the repository"
    )
    assert broken_links(ROOT / "docs" / "promotion.md", "[a](promotion.md#no-such-heading)")[0].endswith(
        "has no heading with anchor #no-such-heading"
    )
    assert broken_links(page, "[a](promotion.md#gate-aggregation-domaingatespy)") == []
    assert heading_anchors("## Gate inputs (`defs/x.py`) — nothing is assumed\n## A\n## A") == {
        "gate-inputs-defsxpy--nothing-is-assumed",
        "a",
        "a-1",
    }
