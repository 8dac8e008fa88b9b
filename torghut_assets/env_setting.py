"""One environment variable's declaration (`EnvSetting`), the check of a set value's form, and how a value
is shown.

Why form checks live with the declaration: `load_settings` reports a malformed value once, in the words
the declaration gives (an integer, a URL with a host, one of the choices), before any rule between
variables runs, so each rule can assume a well-formed value. Why showing lives here too: a value reaches an
operator's screen through `config check` and through problem messages, and both must mask it the same way
(a secret never shows a character, a URL never shows its password).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

KINDS = ("str", "int", "float", "bool", "url", "csv", "csv-symbols", "path", "choice")
CODE_LOCATION = "code location"
INSTANCE = "dagster instance"
HTTP = ("http", "https")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


@dataclass(frozen=True)
class EnvSetting:
    """One variable. `default` is the value used when it is unset or blank ("" = none); `when_unset`
    says in words what happens then when that is computed at run time (a path under DAGSTER_HOME)."""

    name: str
    kind: str
    description: str
    default: str = ""
    when_unset: str = ""
    choices: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    production_required: bool = False
    secret: bool = False
    read_by: str = CODE_LOCATION
    dev_only: bool = False  # a production profile refuses to load with it set

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"{self.name}: choices go with kind 'choice' only")

    def problem(self, raw: str) -> str | None:
        """What is wrong with a set value's form, or None. Rules between variables live in settings."""
        value = raw.strip()
        if self.kind == "choice" and value.lower() not in self.choices:
            return f"{self.name}={value.lower()!r} is not one of {', '.join(map(repr, self.choices))}"
        if self.kind == "bool" and value.lower() not in (*TRUE_WORDS, *FALSE_WORDS):
            return f"{self.name}={value!r} is not a boolean (true/false)"
        if self.kind in ("int", "float") and not _is_number(value, integer=self.kind == "int"):
            return f"{self.name}={value!r} is not {'an integer' if self.kind == 'int' else 'a finite number'}"
        if self.kind == "url" and not _is_url(value, self.schemes):
            wanted = "an http(s):// URL" if self.schemes == HTTP else "a URL (scheme://...)"
            return f"{self.name}={_shown(self, value)} must be {wanted}"
        return None


def _shown(setting: EnvSetting, value: str) -> str:
    return mask(value) if setting.secret else repr(redacted(setting, value))


def mask(value: str) -> str:
    """A secret as `config check` and problem messages show it: never a character of it."""
    return f"****({len(value)} chars)"


def redacted(setting: EnvSetting, value: str) -> str:
    """A value fit to print: secrets masked, and a password inside any URL replaced by `***`."""
    if setting.secret:
        return mask(value)
    if setting.kind != "url":
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _is_number(text: str, *, integer: bool) -> bool:
    """NaN and infinities are refused: every numeric setting is a limit or a duration, where neither
    means anything."""
    try:
        number = float(text)
    except ValueError:
        return False
    return math.isfinite(number) and (number.is_integer() if integer else True)


def _is_url(text: str, schemes: tuple[str, ...]) -> bool:
    """With `schemes`, also a host: an http(s) URL without one would fail only at the first request."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    if not _SCHEME.fullmatch(parts.scheme) or "://" not in text:
        return False
    return not schemes or (parts.scheme.lower() in schemes and bool(parts.hostname))


__all__ = [
    "CODE_LOCATION",
    "FALSE_WORDS",
    "HTTP",
    "INSTANCE",
    "KINDS",
    "TRUE_WORDS",
    "EnvSetting",
    "mask",
    "redacted",
]
