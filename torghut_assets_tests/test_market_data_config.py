"""The code location's `market_data` resource and `torghut-assets replay` are built from one configuration
(`market_data_config`): what Dagster resolves at run time is what the CLI reads from its environment."""

from __future__ import annotations

import dagster as dg
import pytest

from torghut_assets.adapters.market_data import MarketDataOptions
from torghut_assets.definitions import market_data_resource
from torghut_assets.defs.resources import MarketDataResource
from torghut_assets.market_data_config import market_data_config
from torghut_assets.settings import load_settings

SOURCE_URL = "postgresql+psycopg2://ta_reader:s3cr3t-pw@ta-db.internal:5432/torghut"


@pytest.fixture
def sql_environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "TORGHUT_SIGNAL_SOURCE": "sql",
        "TORGHUT_SIGNAL_SOURCE_URL": SOURCE_URL,
        "TRADING_SIGNAL_TABLE": "torghut.ta_signals",
        "TRADING_UNIVERSE_STATIC_SYMBOLS": "AAPL,MSFT,NVDA",
        "TRADING_FEATURE_WARMUP_MINUTES": "5",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_the_cli_reads_the_source_dagster_resolves_for_the_pipeline(sql_environment: dict[str, str]) -> None:
    settings = load_settings()
    with dg.build_resources({"market_data": market_data_resource(settings)}) as resolved:
        pipeline = resolved.market_data.options()
    cli = market_data_config(settings).options(sql_environment)
    assert cli == pipeline
    assert (cli.source, cli.sql_url, cli.sql_table) == ("sql", SOURCE_URL, "torghut.ta_signals")
    assert (cli.symbols, cli.feature_warmup_minutes) == (("AAPL", "MSFT", "NVDA"), 5)


def test_the_configuration_names_secrets_by_their_variable_and_never_holds_them(
    sql_environment: dict[str, str],
) -> None:
    config = market_data_config(load_settings())
    assert config.secrets == {"sql_url": "TORGHUT_SIGNAL_SOURCE_URL"}
    assert "s3cr3t-pw" not in repr(config)
    assert market_data_resource(load_settings()).sql_url == "TORGHUT_SIGNAL_SOURCE_URL"  # an EnvVar


def test_the_resource_and_the_cli_start_from_the_same_defaults() -> None:
    assert MarketDataResource().options() == MarketDataOptions()
