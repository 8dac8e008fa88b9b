"""The `continuity` resource: the desk's continuity and emergency-stop thresholds as the sensor uses them.

Built from settings (`safety_settings`, the reference's variable names) so a threshold set in the
environment reaches the state machine; its fields are plain values so the Launchpad and the UI show them.
"""

from __future__ import annotations

import dagster as dg

from torghut_assets.domain.continuity import ContinuityConfig

_DEFAULT = ContinuityConfig()


class ContinuityThresholdsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    no_signal_streak_alert_threshold: int = _DEFAULT.no_signal_streak_alert_threshold
    stale_lag_alert_seconds: float = _DEFAULT.stale_lag_alert_seconds
    recovery_cycles: int = _DEFAULT.recovery_cycles
    critical_reasons: list[str] = sorted(_DEFAULT.critical_reasons)
    market_closed_expected_reasons: list[str] = sorted(_DEFAULT.market_closed_expected_reasons)
    emergency_stop_enabled: bool = _DEFAULT.emergency_stop_enabled
    emergency_recovery_cycles: int = _DEFAULT.emergency_recovery_cycles
    signal_lag_seconds_limit: float = _DEFAULT.signal_lag_seconds_limit
    staleness_alert_streak_limit: int = _DEFAULT.staleness_alert_streak_limit
    autonomy_failure_streak_limit: int = _DEFAULT.autonomy_failure_streak_limit
    fallback_ratio_limit: float = _DEFAULT.fallback_ratio_limit
    max_drawdown_limit: float = _DEFAULT.max_drawdown_limit
    session_close_tolerance_seconds: float = _DEFAULT.session_close_tolerance_seconds
    lean_live_canary_enabled: bool = _DEFAULT.lean_live_canary_enabled
    lean_live_canary_fallback_ratio_limit: float = _DEFAULT.lean_live_canary_fallback_ratio_limit
    lean_live_canary_hard_rollback_enabled: bool = _DEFAULT.lean_live_canary_hard_rollback_enabled

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
