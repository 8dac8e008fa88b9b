"""Route parity thresholds (docs/routing.md)."""

from __future__ import annotations

from torghut_assets.domain.route_parity import ParityPair, ParityThresholds, VenueFill, evaluate_parity


def pair(i: int, primary_price: float = 100.05, secondary_price: float = 100.04, primary_ok: bool = True):
    cid = f"{i:064x}"
    symbol = ("AAPL", "MSFT", "SPY")[i % 3]

    def fill(adapter: str, price: float, ok: bool = True) -> VenueFill:
        if not ok:
            return VenueFill(adapter=adapter, accepted=False, failure="lean_submit_order_timeout")
        return VenueFill(adapter, True, cid, symbol, "buy", 10.0, 10.0, price)

    return ParityPair(
        cid,
        symbol,
        "buy",
        10.0,
        100.0,
        fill("lean", primary_price, primary_ok),
        fill("alpaca", secondary_price),
    )


def test_twenty_agreeing_pairs_pass() -> None:
    result = evaluate_parity([pair(i) for i in range(20)], ParityThresholds())
    assert result.passed and result.reasons == ()


def test_fewer_than_twenty_pairs_fail_closed() -> None:
    result = evaluate_parity([pair(i) for i in range(19)], ParityThresholds())
    assert not result.passed and result.reasons == ("parity_insufficient_pairs:19<20",)


def test_slippage_gap_above_three_bps_blocks() -> None:
    result = evaluate_parity(
        [pair(i, primary_price=100.10, secondary_price=100.05) for i in range(20)], ParityThresholds()
    )
    assert result.reasons == ("parity_slippage_deviation_bps:5.000",)


def test_fallback_rate_above_five_percent_blocks() -> None:
    pairs = [pair(i, primary_ok=i not in (0, 1)) for i in range(20)]
    result = evaluate_parity(pairs, ParityThresholds())
    assert "parity_fallback_rate_exceeded:0.1000" in result.reasons


def test_three_primary_failures_on_one_symbol_flag_manual_review() -> None:
    pairs = [pair(i, primary_ok=i not in (0, 3, 6)) for i in range(30)]
    assert "parity_symbol_manual_review:AAPL" in evaluate_parity(pairs, ParityThresholds()).reasons


def test_a_report_whose_ids_do_not_map_fails() -> None:
    broken = pair(0)
    wrong = VenueFill("alpaca", True, "other", broken.symbol, "buy", 10.0, 10.0, 100.04)
    pairs = [ParityPair(broken.client_order_id, broken.symbol, "buy", 10.0, 100.0, broken.primary, wrong)]
    pairs += [pair(i) for i in range(1, 20)]
    assert "parity_id_mapping_mismatch:1" in evaluate_parity(pairs, ParityThresholds()).reasons
