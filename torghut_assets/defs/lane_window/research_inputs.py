"""The research settings resource, shared by the research assets, replay and the governance gates.

What the research chain, replay and the gates read (the run row, the dataset checked against it, the
stored rows) is `services.research_inputs`; this module only binds the settings to configuration.
"""

import dagster as dg

from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.strategy_interface import DEFAULT_TIMEOUT_SECONDS


class ResearchResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Walk-forward and grid settings; their checksum is part of every run id."""

    lookback_sessions: int = 1
    train_bars: int = 60
    test_bars: int = 30
    step_bars: int = 30
    purge_bars: int = 5
    fold_mode: str = "sliding"
    grid: dict[str, list[float]] | None = None
    # TORGHUT_STRATEGY_TIMEOUT_SECONDS: per strategy call; not part of the settings' checksum (it decides
    # whether a run finishes, never what it computes)
    strategy_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def settings(self) -> ResearchSettings:
        grid = None if self.grid is None else tuple(sorted((k, tuple(v)) for k, v in self.grid.items()))
        return ResearchSettings(
            lookback_sessions=self.lookback_sessions,
            train_bars=self.train_bars,
            test_bars=self.test_bars,
            step_bars=self.step_bars,
            purge_bars=self.purge_bars,
            fold_mode=self.fold_mode,
            grid=grid,
        )
