"""The lane catalog: the shipped file reproduces the built-in lanes, every problem of a bad catalog is named
at once (file, lane, key), and accounts keep their decisions and positions apart."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator

import pytest

from torghut_assets.catalog_loader import DEFAULT_LANE_CATALOG_PATH, configured_catalog, read_catalog
from torghut_assets.domain.decisions import TradeDecision, plan_session_decisions
from torghut_assets.domain.lane_catalog import (
    CatalogError,
    LaneCatalog,
    lane_candidates,
    lane_research_settings,
    lane_strategy,
)
from torghut_assets.domain.lane_catalog_parse import parse_catalog
from torghut_assets.domain.lanes import LANES, LaneConfig, LaneMode, lane_config
from torghut_assets.domain.research_evaluation import ResearchSettings
from torghut_assets.domain.strategies import default_strategy, parameter_grid
from torghut_assets.ledger.records import decision_from_row
from torghut_assets_tests.desk_package import BOLLINGER, desk_package_installed
from torghut_assets_tests.domain.session_fixtures import SimulatedSession, planned, simulate_session

SOURCE = "/etc/torghut/desk.toml"
OUTSIDE = BOLLINGER

# The lanes as the package hard-coded them before the catalog (domain/lanes.py, LANES).
BUILT_IN_LANES = {
    "macd_rsi": LaneConfig(
        lane="macd_rsi",
        strategy_type="legacy_macd_rsi",
        description="Reference default strategy: MACD cross filtered by RSI extremes.",
    ),
    "ema_trend": LaneConfig(
        lane="ema_trend",
        strategy_type="ema_trend",
        description="EMA12/EMA26 trend-following crosses.",
    ),
}
LIMIT_FIELDS = (
    "lane",
    "strategy_type",
    "account_label",
    "description",
    "equity",
    "max_notional_per_trade",
    "max_position_pct_equity",
    "max_gross_notional",
    "max_open_positions",
    "allow_shorts",
    "session_close_flatten_minutes",
    "session_close_entry_block_minutes",
    "mode",
)


def head(top: str = "") -> str:
    """The catalog's top-level keys (`top` among them) and its `paper` account."""
    return f'version = "7"\n{top}\n[accounts.paper]\nequity = 100000.0\nbroker = "alpaca"\n'


HEAD = head()


def catalog(text: str) -> LaneCatalog:
    return parse_catalog(text.encode("utf-8"), SOURCE)


def problems(text: str) -> list[str]:
    with pytest.raises(CatalogError) as raised:
        catalog(text)
    return list(raised.value.problems)


def lane_toml(
    name: str = "desk", strategy: str = "ema_trend", account: str = "paper", extra: str = ""
) -> str:
    return f'\n[lanes.{name}]\nstrategy = "{strategy}"\naccount = "{account}"\n{extra}\n'


@pytest.fixture
def outside_strategies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The desk's own strategy package, importable for this test only (as if installed next to ours)."""
    with desk_package_installed(monkeypatch):
        yield


# --- the shipped catalog -----------------------------------------------------------------------------------


def test_the_shipped_catalog_declares_exactly_the_built_in_lanes() -> None:
    shipped = read_catalog(DEFAULT_LANE_CATALOG_PATH)
    assert sorted(shipped.lanes) == sorted(BUILT_IN_LANES)
    for name, before in BUILT_IN_LANES.items():
        lane = shipped.lanes[name]
        assert {f: getattr(lane, f) for f in LIMIT_FIELDS} == {f: getattr(before, f) for f in LIMIT_FIELDS}
        # Same strategy, same params: the same strategy id, candidate ids and decision hashes as before.
        assert lane_strategy(lane) == default_strategy(before.strategy_type)
        assert lane_candidates(lane, ResearchSettings()) == parameter_grid(
            default_strategy(before.strategy_type)
        )
        assert lane_research_settings(ResearchSettings(), lane) == ResearchSettings()
        assert lane.multi_account is True  # the label stays in the hash, as it always was
    assert shipped.window_start == "2026-01-05-00:00"
    assert shipped.broker_account == "paper"
    assert shipped.checksum == hashlib.sha256(DEFAULT_LANE_CATALOG_PATH.read_bytes()).hexdigest()


def test_the_process_lanes_are_the_catalogs() -> None:
    assert dict(LANES) == dict(configured_catalog().lanes)
    assert lane_config("macd_rsi") is configured_catalog().lanes["macd_rsi"]
    assert all(cfg.catalog_checksum == configured_catalog().checksum for cfg in LANES.values())


# --- the format -------------------------------------------------------------------------------------------


def test_a_minimal_lane_takes_the_documented_defaults() -> None:
    lane = catalog(HEAD + lane_toml()).lanes["desk"]
    assert (lane.mode, lane.account_label, lane.equity, lane.params, lane.research_grid) == (
        LaneMode.REPLAY,
        "paper",
        100000.0,
        (),
        None,
    )
    assert (lane.max_notional_per_trade, lane.max_open_positions, lane.allow_shorts) == (1000.0, 5, False)


def test_a_full_lane_reads_every_section() -> None:
    text = (
        head('multi_account = true\nretired = ["old_lane"]')
        + """
[windows]
start_date = 2026-02-02T14:00:00Z

[accounts.desk2]
equity = 50000
"""
        + lane_toml(
            account="desk2",
            extra="""
mode = "replay"
description = "tight trend"
params = { min_cross_bps = 2.0 }
sizing = { notional_per_trade = 500.0 }
research = { grid = { min_cross_bps = [1.0, 3.0] } }
[lanes.desk.limits]
max_notional_per_trade = 600.0
max_position_pct_equity = 0.05
max_gross_notional = 5000.0
max_open_positions = 3
allow_shorts = true
[lanes.desk.session]
close_flatten_minutes = 5
close_entry_block_minutes = 15
""",
        )
    )
    parsed = catalog(text)
    lane = parsed.lanes["desk"]
    assert parsed.window_start == "2026-02-02-14:00" and parsed.retired == ("old_lane",)
    assert lane.params == (("min_cross_bps", 2.0), ("notional_per_trade", 500.0))
    assert lane.research_grid == (("min_cross_bps", (1.0, 3.0)),)
    assert (lane.equity, lane.account_broker, lane.description) == (50000.0, "none", "tight trend")
    assert (lane.max_notional_per_trade, lane.max_position_pct_equity, lane.max_gross_notional) == (
        600.0,
        0.05,
        5000.0,
    )
    assert (lane.max_open_positions, lane.allow_shorts) == (3, True)
    assert (lane.session_close_flatten_minutes, lane.session_close_entry_block_minutes) == (5, 15)
    spec = lane_strategy(lane)
    assert dict(spec.params) == {"min_cross_bps": 2.0, "rsi_filter_max": 70.0, "notional_per_trade": 500.0}
    assert [dict(s.params)["min_cross_bps"] for s in lane_candidates(lane, ResearchSettings())] == [1.0, 3.0]
    # The lane's grid is part of the research settings' checksum, hence of the run id.
    assert lane_research_settings(ResearchSettings(), lane).checksum() != ResearchSettings().checksum()
    # A grid given to the research resource (run config) still wins.
    given = ResearchSettings(grid=(("min_cross_bps", (9.0,)),))
    assert lane_research_settings(given, lane) is given


def test_the_checksum_is_the_sha256_of_the_file_bytes() -> None:
    text = HEAD + lane_toml()
    assert catalog(text).checksum == hashlib.sha256(text.encode()).hexdigest()
    assert catalog(text + "# a comment\n").checksum != catalog(text).checksum


# --- validation: one message per problem, naming file, lane and key -----------------------------------------


def test_every_problem_is_listed_at_once_with_file_lane_and_key() -> None:
    text = (
        HEAD
        + lane_toml(
            "a",
            extra="""
mode = "papr"
colour = "blue"
limits = { max_open_positions = 2.5, max_gross_notional = -1.0, allow_shorts = "yes" }
""",
        )
        + lane_toml("b", account="nobody")
    )
    found = problems(text)
    assert found == [
        f"{SOURCE}: lane 'a': colour: unknown key (known: strategy, account, mode, description, params, "
        "sizing, research, limits, session)",
        f"{SOURCE}: lane 'a': mode: 'papr' is not one of replay, paper, live",
        f"{SOURCE}: lane 'a': limits.max_gross_notional: must be > 0, got -1.0",
        f"{SOURCE}: lane 'a': limits.max_open_positions: must be a whole number, got 2.5",
        f"{SOURCE}: lane 'a': limits.allow_shorts: must be true or false, got a string",
        f"{SOURCE}: lane 'b': account: 'nobody' is not a declared account (paper)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version = [", f"{SOURCE}: not valid TOML: "),
        (
            HEAD + lane_toml() + lane_toml(),
            f"{SOURCE}: not valid TOML: Cannot declare ('lanes', 'desk') twice",
        ),
        (HEAD.replace('version = "7"', "") + lane_toml(), f"{SOURCE}: version: missing"),
        (head("colour = 1") + lane_toml(), f"{SOURCE}: colour: unknown key"),
        (HEAD, f"{SOURCE}: lanes: no lane declared"),
        ('version = "1"\n' + lane_toml(), f"{SOURCE}: accounts: missing"),
        (
            HEAD + "[accounts.desk2]\nbroker = 'none'\n" + lane_toml(),
            f"{SOURCE}: account 'desk2': equity: missing",
        ),
        (
            HEAD.replace("100000.0", '"lots"') + lane_toml(),
            f"{SOURCE}: account 'paper': equity: must be a number, got a string",
        ),
        (
            HEAD.replace("100000.0", "inf") + lane_toml(),
            f"{SOURCE}: account 'paper': equity: must be finite, got inf",
        ),
        (
            HEAD.replace("100000.0", "nan") + lane_toml(),
            f"{SOURCE}: account 'paper': equity: must be finite, got nan",
        ),
        (
            HEAD.replace('"alpaca"', '"ibkr"') + lane_toml(),
            f"{SOURCE}: account 'paper': broker: 'ibkr' is not one of",
        ),
        (
            HEAD + "[windows]\nstart_date = '2026-01-05-09:30'\n" + lane_toml(),
            f"{SOURCE}: windows.start_date: ",
        ),
        (
            HEAD + "[windows]\nstart_date = 'soon'\n" + lane_toml(),
            f"{SOURCE}: windows.start_date: 'soon' is not a date",
        ),
        (HEAD + lane_toml("Desk"), f"{SOURCE}: lane 'Desk': name: must be lower-case"),
        (HEAD + '\n[lanes.desk]\naccount = "paper"\n', f"{SOURCE}: lane 'desk': strategy: missing"),
        (
            HEAD + lane_toml(extra="limits = { max_position_pct_equity = 1.5 }"),
            f"{SOURCE}: lane 'desk': limits.max_position_pct_equity: must be at most 1",
        ),
        (
            HEAD + lane_toml(extra="limits = { max_notional_per_trade = 0 }"),
            f"{SOURCE}: lane 'desk': limits.max_notional_per_trade: must be > 0",
        ),
        (
            HEAD + lane_toml(extra="limits = { max_open_positions = 0 }"),
            f"{SOURCE}: lane 'desk': limits.max_open_positions: must be >= 1",
        ),
        (
            HEAD + lane_toml(extra="limits = { max_gross_notional = 500.0 }"),
            f"{SOURCE}: lane 'desk': limits.max_notional_per_trade: 1000 exceeds limits.max_gross_notional",
        ),
        (
            HEAD + lane_toml(extra="sizing = { notional_per_trade = 2000.0 }"),
            f"{SOURCE}: lane 'desk': sizing.notional_per_trade: 2000 exceeds limits.max_notional_per_trade",
        ),
        (
            HEAD
            + lane_toml(
                extra="sizing = { notional_per_trade = 900.0 }\nlimits = { max_position_pct_equity = 0.005 }"
            ),
            f"{SOURCE}: lane 'desk': sizing.notional_per_trade: 900 exceeds limits.max_position_pct_equity x "
            "equity = 500",
        ),
        (
            HEAD + lane_toml(extra="params = { notional_per_trade = 10.0 }"),
            f"{SOURCE}: lane 'desk': params.notional_per_trade: set it once, as sizing.notional_per_trade",
        ),
        (
            HEAD + lane_toml(extra="session = { close_flatten_minutes = 15 }"),
            f"{SOURCE}: lane 'desk': session.close_entry_block_minutes: 10 is less than "
            "session.close_flatten_minutes 15",
        ),
        (
            HEAD + lane_toml(extra="session = { close_flatten_minutes = 500 }"),
            f"{SOURCE}: lane 'desk': session.close_flatten_minutes: must be at most 390",
        ),
        (
            HEAD + lane_toml(extra="research = { grid = { min_cross_bps = [1.0, 1.0] } }"),
            f"{SOURCE}: lane 'desk': research.grid.min_cross_bps: values repeat",
        ),
        (
            HEAD + lane_toml(extra="research = { grid = { min_cross_bps = [] } }"),
            f"{SOURCE}: lane 'desk': research.grid.min_cross_bps: must be a non-empty list",
        ),
        (
            HEAD + lane_toml(extra="sizing = { size = 1.0 }"),
            f"{SOURCE}: lane 'desk': sizing.size: unknown key",
        ),
        (
            head("retired = ['desk']") + lane_toml(),
            f"{SOURCE}: lane 'desk': retired: the name of a retired lane cannot be reused",
        ),
    ],
)
def test_each_kind_of_problem_is_named(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_a_lane_in_paper_mode_needs_an_account_bound_to_a_broker() -> None:
    text = HEAD + "[accounts.sim]\nequity = 1000000.0\n" + lane_toml(account="sim", extra='mode = "paper"')
    assert problems(text) == [
        f"{SOURCE}: lane 'desk': mode: 'paper' reaches real venues but account 'sim' has broker = 'none' "
        "(simulated only): bind the account to a broker or keep the lane in replay"
    ]
    assert catalog(HEAD + lane_toml(extra='mode = "paper"')).lanes["desk"].mode is LaneMode.PAPER


def test_one_set_of_broker_keys_backs_one_account_label() -> None:
    text = HEAD + "[accounts.other]\nequity = 5.0\nbroker = 'alpaca'\n" + lane_toml()
    (problem,) = problems(text)
    assert problem.startswith(f"{SOURCE}: account 'paper': broker: 'alpaca' already backs account 'other'")


def test_several_accounts_need_the_label_in_the_decision_hash() -> None:
    text = head("multi_account = false") + "[accounts.desk2]\nequity = 5.0\n" + lane_toml()
    (problem,) = problems(text)
    assert problem.startswith(f"{SOURCE}: multi_account: false with 2 accounts (desk2, paper)")


def test_two_lanes_trading_one_strategy_and_params_on_one_account_are_refused() -> None:
    text = HEAD + "[accounts.desk2]\nequity = 5000.0\n" + lane_toml("a") + lane_toml("b")
    (problem,) = problems(text)
    assert problem.startswith(f"{SOURCE}: lane 'b': account: lane 'a' already trades this strategy")
    # Other params, or another account, and their decisions hash apart.
    catalog(HEAD + lane_toml("a") + lane_toml("b", extra="params = { min_cross_bps = 3.0 }"))
    catalog(HEAD + "[accounts.desk2]\nequity = 100000.0\n" + lane_toml("a") + lane_toml("b", account="desk2"))


def test_strategy_problems_are_named_under_the_key_at_fault(outside_strategies: None) -> None:
    text = (
        HEAD
        + lane_toml("unknown", strategy="no_such_strategy")
        + lane_toml("missing", strategy="desk_strategies:NoSuchClass")
        + lane_toml("module", strategy="not_installed_pkg:Strategy")
        + lane_toml("params", strategy=OUTSIDE, extra="params = { band_width = 2.0 }")
        + lane_toml("grid", strategy=OUTSIDE, extra="research = { grid = { rsi_buy_below = [30.0] } }")
    )
    found = problems(text)
    by_lane = {p.split("'")[1]: p for p in found}
    assert len(found) == 5, found
    assert by_lane["unknown"].startswith(f"{SOURCE}: lane 'unknown': strategy: strategy 'no_such_strategy'")
    assert (
        by_lane["missing"].startswith(f"{SOURCE}: lane 'missing': strategy: ")
        and "NoSuchClass" in by_lane["missing"]
    )
    assert (
        by_lane["module"].startswith(f"{SOURCE}: lane 'module': strategy: ")
        and "not_installed_pkg" in by_lane["module"]
    )
    assert (
        by_lane["params"].startswith(f"{SOURCE}: lane 'params': params: ")
        and "band_width" in by_lane["params"]
    )
    assert (
        by_lane["grid"].startswith(f"{SOURCE}: lane 'grid': research.grid: ")
        and "rsi_buy_below" in by_lane["grid"]
    )


def test_an_outside_strategy_is_a_lane_like_any_other(outside_strategies: None) -> None:
    lane = catalog(HEAD + lane_toml("bollinger", strategy=OUTSIDE)).lanes["bollinger"]
    spec = lane_strategy(lane)
    assert (spec.strategy_type, spec.version) == (OUTSIDE, "0.1.0")
    assert [dict(s.params)["band_buffer_bps"] for s in lane_candidates(lane, ResearchSettings())] == [
        0.0,
        5.0,
        10.0,
    ]


# --- accounts: the label in the hash, positions apart -------------------------------------------------------

TWO_ACCOUNTS = (
    HEAD
    + "[accounts.desk2]\nequity = 100000.0\n"
    + lane_toml("trend_paper", account="paper")
    + lane_toml("trend_desk2", account="desk2")
)


@pytest.fixture(scope="module")
def session() -> SimulatedSession:
    return simulate_session()


def _plan(session: SimulatedSession, lane: LaneConfig) -> list[TradeDecision]:
    return plan_session_decisions(session.signals, lane_strategy(lane), lane, session.close)


def _positions(decisions: list[TradeDecision]) -> dict[str, int]:
    held: dict[str, int] = {}
    for d in planned(decisions):
        held[d.symbol] = held.get(d.symbol, 0) + (d.qty if d.action == "buy" else -d.qty)
    return held


def test_two_accounts_on_one_strategy_make_different_decision_hashes(session: SimulatedSession) -> None:
    lanes = catalog(TWO_ACCOUNTS).lanes
    paper, desk2 = _plan(session, lanes["trend_paper"]), _plan(session, lanes["trend_desk2"])
    assert planned(paper)
    # The same orders (same strategy, params and equity), one per account...
    assert [(d.symbol, d.event_ts, d.action, d.qty) for d in paper] == [
        (d.symbol, d.event_ts, d.action, d.qty) for d in desk2
    ]
    # ...but never the same idempotency key / client_order_id.
    assert {d.account_label for d in paper} == {"paper"} and {d.account_label for d in desk2} == {"desk2"}
    assert not {d.decision_hash for d in paper} & {d.decision_hash for d in desk2}


def test_each_account_keeps_its_own_positions(session: SimulatedSession) -> None:
    lanes = catalog(TWO_ACCOUNTS).lanes
    tight = dataclasses.replace(lanes["trend_desk2"], max_open_positions=1)
    paper, desk2 = _plan(session, lanes["trend_paper"]), _plan(session, tight)
    # The desk2 book's limit binds on desk2's positions only: paper's entries are never counted against it.
    assert max(_open_counts(desk2)) <= 1 < max(_open_counts(paper))
    assert _positions(paper) != _positions(desk2)


def _open_counts(decisions: list[TradeDecision]) -> list[int]:
    held: dict[str, int] = {}
    counts = []
    for d in planned(decisions):
        held[d.symbol] = held.get(d.symbol, 0) + (d.qty if d.action == "buy" else -d.qty)
        counts.append(sum(1 for q in held.values() if q))
    return counts


def test_single_account_mode_leaves_the_label_out_of_the_hash_as_the_reference(
    session: SimulatedSession,
) -> None:
    single = catalog(head("multi_account = false") + lane_toml()).lanes["desk"]
    multi = catalog(HEAD + lane_toml()).lanes["desk"]
    one, other = _plan(session, single)[0], _plan(session, multi)[0]
    reference = {
        "strategy_id": one.strategy_id,
        "symbol": one.symbol,
        "event_ts": one.event_ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timeframe": one.timeframe,
        "action": one.action,
        "qty": str(one.qty),
        "order_type": "market",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "params": dict(one.params),
        "account_label": None,
    }
    raw = json.dumps(reference, sort_keys=True, separators=(",", ":")).encode()
    assert one.decision_hash == hashlib.sha256(raw).hexdigest()
    assert other.decision_hash != one.decision_hash  # multi-account: "paper" is in it


def test_a_stored_decision_records_the_catalog_and_rebuilds_to_its_hash(session: SimulatedSession) -> None:
    for text in (head("multi_account = false") + lane_toml(), HEAD + lane_toml()):
        parsed = catalog(text)
        decision = _plan(session, parsed.lanes["desk"])[0]
        payload = decision.decision_json()
        assert payload["lane_catalog"] == {"checksum": parsed.checksum, "multi_account": parsed.multi_account}
        row = {
            "id": "x",
            "decision_json": json.loads(json.dumps(payload)),
            "decision_hash": decision.decision_hash,
            "alpaca_account_label": decision.account_label,
            "signal_seq": decision.signal_seq,
        }
        assert decision_from_row(row).decision_hash == decision.decision_hash


def test_a_decision_stored_before_the_catalog_still_rebuilds(session: SimulatedSession) -> None:
    lane = dataclasses.replace(LANES["macd_rsi"], catalog_checksum=None)
    decision = _plan(session, lane)[0]
    payload = decision.decision_json()
    assert "lane_catalog" not in payload
    row = {
        "id": "x",
        "decision_json": payload,
        "decision_hash": decision.decision_hash,
        "alpaca_account_label": decision.account_label,
        "signal_seq": decision.signal_seq,
    }
    assert decision_from_row(row).decision_hash == decision.decision_hash
