"""The `continuity` resource: the desk's continuity and emergency-stop thresholds as the sensor uses them.

Built from settings (`safety_settings`, the reference's variable names) so a threshold set in the
environment reaches the state machine; its fields are plain values so the Launchpad and the UI show them.
"""

from __future__ import annotations

import dagster as dg

from torghut_assets.domain.continuity import ContinuityConfig


class ContinuityThresholdsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    no_signal_streak_alert_threshold: int = 2
    stale_lag_alert_seconds: float = 300.0
    recovery_cycles: int = 2
    critical_reasons: list[str] = sorted(ContinuityConfig().critical_reasons)
    market_closed_expected_reasons: list[str] = sorted(ContinuityConfig().market_closed_expected_reasons)
    emergency_stop_enabled: bool = True
    emergency_recovery_cycles: int = 3
    signal_lag_seconds_limit: float = 600.0
    staleness_alert_streak_limit: int = 3
    autonomy_failure_streak_limit: int = 3
    fallback_ratio_limit: float = 0.25
    max_drawdown_limit: float = 0.08
    session_close_tolerance_seconds: float = 900.0
    lean_live_canary_enabled: bool = False
    lean_live_canary_fallback_ratio_limit: float = 0.25
    lean_live_canary_hard_rollback_enabled: bool = True

    @classmethod
    def from_config(cls, config: ContinuityConfig) -> ContinuityThresholdsResource:
        values = {name: getattr(config, name) for name in cls.model_fields}
        values["critical_reasons"] = sorted(config.critical_reasons)
        values["market_closed_expected_reasons"] = sorted(config.market_closed_expected_reasons)
        return cls(**values)

    def config(self) -> ContinuityConfig:
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values["critical_reasons"] = frozenset(self.critical_reasons)
        values["market_closed_expected_reasons"] = frozenset(self.market_closed_expected_reasons)
        return ContinuityConfig(**values)
