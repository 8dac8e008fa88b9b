"""`torghut-assets config check`: the configuration in effect, as an operator reviews it before a deploy.

Every declared variable is listed with the value in effect and where it came from, so a typo'd name
or a forgotten secret shows up as `default`/`unset` instead of as a surprise at the first run. Secrets
are masked (length only) and URL passwords replaced, so the report can be pasted into a ticket. The
verdict is `load_settings`' own: the report never judges a configuration the code location would
load differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torghut_assets.config_registry import REGISTRY, SETTINGS
from torghut_assets.domain.lane_catalog import LaneCatalog
from torghut_assets.domain.lanes import LaneMode
from torghut_assets.env_setting import CODE_LOCATION, INSTANCE, EnvSetting, redacted
from torghut_assets.settings import SettingsError, load_settings

ORIGIN_ENV = "env"
ORIGIN_DEFAULT = "default"
ORIGIN_UNSET = "unset"
# Names that look like ours; one of them that is not declared is most likely a typo.
OWN_PREFIXES = ("TORGHUT_", "TRADING_", "LLM_", "APCA_", "JANGAR_", "DAGSTER_PG_")


@dataclass(frozen=True)
class EffectiveValue:
    setting: EnvSetting
    origin: str
    shown: str


def effective_values(env: Mapping[str, str]) -> list[EffectiveValue]:
    """Each declared variable with its printable value in effect and where that value came from."""
    values = []
    for setting in REGISTRY:
        raw = env.get(setting.name, "").strip()
        if raw:
            values.append(EffectiveValue(setting, ORIGIN_ENV, redacted(setting, raw)))
        elif setting.default:
            values.append(EffectiveValue(setting, ORIGIN_DEFAULT, setting.default))
        else:
            meaning = f" ({setting.when_unset})" if setting.when_unset else ""
            values.append(EffectiveValue(setting, ORIGIN_UNSET, f"-{meaning}"))
    return values


def undeclared(env: Mapping[str, str]) -> list[str]:
    """Set variables named like ours that nothing reads."""
    return sorted(name for name in env if name.startswith(OWN_PREFIXES) and name not in SETTINGS)


def check_report(env: Mapping[str, str]) -> tuple[list[str], bool]:
    """The report's lines, and whether the code location would load with this environment."""
    values = effective_values(env)
    width = max(len(v.setting.name) for v in values)
    lines: list[str] = []
    for reader in (CODE_LOCATION, INSTANCE):
        lines += ["", f"read by the {reader}:", f"  {'VARIABLE'.ljust(width)}  {'SOURCE':<7}  VALUE"]
        for value in (v for v in values if v.setting.read_by == reader):
            flag = "  [secret]" if value.setting.secret else ""
            lines.append(f"  {value.setting.name.ljust(width)}  {value.origin:<7}  {value.shown}{flag}")
    lines.append("")
    for name in undeclared(env):
        lines.append(f"warning: {name} is set but torghut_assets does not read it (a typo?)")
    try:
        settings = load_settings(env)
    except SettingsError as error:
        lines.append(f"INVALID: {len(error.problems)} problem(s):")
        lines += [f"  - {problem}" for problem in error.problems]
        return lines, False
    lines.append(f"OK: the code location loads with profile {settings.profile!r}")
    lines += [f"note: {note}" for note in (settings.fallback_note, settings.llm_note) if note]
    if settings.lane_catalog is not None:
        lines += ["", *catalog_lines(settings.lane_catalog, settings.lane_modes)]
    return lines, True


def catalog_lines(catalog: LaneCatalog, modes: Mapping[str, LaneMode]) -> list[str]:
    """The lane catalog in effect: file, version, checksum, accounts and lanes (mode as it will run)."""
    lines = [
        f"lane catalog: {catalog.source}",
        f"  version {catalog.version}  sha256 {catalog.checksum}",
        f"  windows from {catalog.window_start} UTC  multi_account {str(catalog.multi_account).lower()}",
    ]
    for account in catalog.accounts.values():
        lines.append(f"  account {account.label}: equity {account.equity:g}, broker {account.broker}")
    for name, lane in catalog.lanes.items():
        mode = modes.get(name, lane.mode)
        note = f" ({mode.value} by TORGHUT_LANE_MODES)" if mode is not lane.mode else ""
        lines.append(
            f"  lane {name}: strategy {lane.strategy_ref}, account {lane.account_label}, "
            f"mode {lane.mode.value}{note}"
        )
    if catalog.retired:
        lines.append(f"  retired lanes: {', '.join(catalog.retired)}")
    return lines
