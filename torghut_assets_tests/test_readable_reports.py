"""What the UI shows must read the same on any browser: pass/fail in words, never an emoji or a symbol
mark (they draw as empty boxes without an emoji font), and artifacts as links a browser can open,
never a path on the code location's server."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "torghut_assets"
TEXT_SUFFIXES = {".py", ".md", ".toml", ".json", ".yaml", ".yml", ".txt", ".html", ".sql"}
# Symbols that every text font has and that carry meaning in the prose: arrows and the degree sign.
ALLOWED_SYMBOLS = {chr(c) for c in range(0x2190, 0x2200)} | {"°"}
# Emoji presentation and joining: invisible alone, they turn the character before them into a pictograph.
EMOJI_MODIFIERS = {"\ufe0f", "\u200d", "\u20e3"}


def _source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts)


def _pictographs(text: str) -> list[str]:
    """Characters of Unicode category So (other symbol: emoji, dingbats such as check and cross marks,
    warning signs, geometric shapes) outside the allow-list, and emoji modifiers."""
    return [
        ch
        for ch in text
        if ch in EMOJI_MODIFIERS
        or (ord(ch) > 127 and unicodedata.category(ch) == "So" and ch not in ALLOWED_SYMBOLS)
    ]


def test_the_scan_finds_check_marks_crosses_warnings_and_emoji_but_not_arrows() -> None:
    assert _pictographs("✅ ❌ ✔ ✗ ⚠️ 🚀 ● ★") == ["✅", "❌", "✔", "✗", "⚠", "\ufe0f", "🚀", "●", "★"]
    assert _pictographs("expected → actual, ≥ 5, −3.5, Φ, 10 °C, — …") == []


def test_no_emoji_or_symbol_mark_anywhere_in_the_package_source() -> None:
    found = {
        str(path.relative_to(PACKAGE)): sorted(set(marks))
        for path in _source_files()
        if (marks := _pictographs(path.read_text(encoding="utf-8")))
    }
    assert found == {}, f"write PASS/FAIL (or words) instead of symbol marks: {found}"


def test_no_metadata_value_is_a_server_path() -> None:
    """`dg.MetadataValue.path` (and file:// URLs) name a file on the server; the UI shows them as text the
    operator's browser cannot open. Artifacts go through `ledger.artifact_link` instead."""
    pattern = re.compile(r"MetadataValue\.path\(|file://")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted((PACKAGE / "defs").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []
