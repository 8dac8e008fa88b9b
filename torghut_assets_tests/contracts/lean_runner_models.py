"""The LEAN runner's HTTP contract, as the reference runner defines it.

Source: repository proompteng/lab, commit 18622cbe3a, file services/torghut/app/lean_runner.py.

- Request models (`SubmitOrderBody`, `BacktestSubmitBody`, `ShadowSimulateBody`, `StrategyShadowBody`):
  lines 38-75, transcribed field for field: same names, types, defaults and `extra="forbid"`
  (`Optional[float]` is written `float | None`, the same type).
- Everything below the request models is *derived*: the reference declares no response models, so each
  response model is read off the handler that builds the dict (line ranges on each class). Pydantic's
  `model_dump(mode="json")` of alpaca-py's `Order` (alpaca-py 0.43.2 in the reference's uv.lock; the
  `Order` fields are the same in 0.44.0) gives the order fields, to which the runner adds its own keys
  (`_execution_adapter`, `_lean_contract_version`, `_lean_audit`).
- Error bodies are FastAPI's: `HTTPException` answers `{"detail": "<string>"}`, request validation answers
  422 `{"detail": [{type, loc, msg, input[, ctx]}]}` (pydantic's errors without `url`, `loc` rooted at
  `"body"`), an unknown route 404 `{"detail": "Not Found"}`, a known path with another method 405
  `{"detail": "Method Not Allowed"}`, an uncaught exception 500 `Internal Server Error` (text/plain).

Every model forbids extra keys, so a fixture or a stub answer that drifts from the reference fails
validation instead of passing unnoticed.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REFERENCE = "proompteng/lab@18622cbe3a:services/torghut/app/lean_runner.py"
RUNNER_NAME = "torghut-lean-runner"

# ---------------------------------------------------------------------------------------------------
# Request models: lean_runner.py lines 38-75, verbatim.
# ---------------------------------------------------------------------------------------------------


class SubmitOrderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str
    side: str
    qty: float
    order_type: str
    time_in_force: str
    limit_price: float | None = None
    stop_price: float | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)


class BacktestSubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lane: str = "research"
    config: dict[str, Any] = Field(default_factory=dict)


class ShadowSimulateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str
    side: str
    qty: float
    order_type: str = "market"
    time_in_force: str = "day"
    limit_price: float | None = None
    intent_price: float | None = None


class StrategyShadowBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy_id: str
    symbol: str
    intent: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# Routes (lines 146-413), in declaration order: Starlette matches them in this order, so e.g.
# `GET /v1/orders/cancel-all` is `get_order("cancel-all")`, not a 405.
# ---------------------------------------------------------------------------------------------------

ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/healthz", "healthz"),
    ("GET", "/v1/observability", "observability"),
    ("POST", "/v1/orders/submit", "submit_order"),
    ("POST", "/v1/orders/{order_id}/cancel", "cancel_order"),
    ("POST", "/v1/orders/cancel-all", "cancel_all_orders"),
    ("GET", "/v1/orders/{order_id}", "get_order"),
    ("GET", "/v1/orders/client/{client_order_id}", "get_order_by_client_order_id"),
    ("GET", "/v1/orders", "list_orders"),
    ("POST", "/v1/backtests/submit", "submit_backtest"),
    ("GET", "/v1/backtests/{backtest_id}", "get_backtest"),
    ("POST", "/v1/shadow/simulate", "shadow_simulate"),
    ("POST", "/v1/strategy-shadow/evaluate", "strategy_shadow"),
)

# The `detail` prefix of the 502 each order operation raises when the broker call fails (lines 191, 217,
# 237, 254, 270, 290): `f"{prefix}:{taxonomy}:{exc}"`.
FAILURE_PREFIX = {
    "submit_order": "lean_submit_failed",
    "cancel_order": "lean_cancel_failed",
    "cancel_all_orders": "lean_cancel_all_failed",
    "get_order": "lean_get_order_failed",
    "get_order_by_client_order_id": "lean_get_order_by_client_id_failed",
    "list_orders": "lean_list_orders_failed",
}
# `_classify_error_taxonomy`, lines 617-627.
RUNNER_TAXONOMIES = (
    "contract_invalid_order_type",
    "contract_missing_required_field",
    "network_timeout",
    "upstream_auth",
    "upstream_error",
)
ORDER_NOT_FOUND = "order_not_found"  # line 273: 404 of GET /v1/orders/client/{client_order_id}
LIST_STATUSES = ("open", "closed", "all")  # alpaca-py QueryOrderStatus, line 285
IDEMPOTENCY_TTL_SECONDS = 300  # line 129


# ---------------------------------------------------------------------------------------------------
# Derived response models.
# ---------------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HealthAnswer(_Strict):
    """GET /healthz, lines 146-148."""

    status: Literal["ok"]
    service: Literal["torghut-lean-runner"]


class LeanAudit(_Strict):
    """`_audit_payload`, lines 600-614 (`request_ts` is `datetime.isoformat()`, i.e. `+00:00`)."""

    runner: Literal["torghut-lean-runner"]
    operation: str
    request_ts: str
    correlation_id: str
    idempotency_key: str | None
    idempotent_replay: bool


class AlpacaOrderJson(_Strict):
    """alpaca-py `Order.model_dump(mode="json")` (alpaca/trading/models.py `class Order`): UUIDs and
    datetimes as strings, enums as their values, decimals as Alpaca sent them (strings)."""

    id: str
    client_order_id: str
    created_at: str
    updated_at: str
    submitted_at: str
    filled_at: str | None
    expired_at: str | None
    expires_at: str | None
    canceled_at: str | None
    failed_at: str | None
    replaced_at: str | None
    replaced_by: str | None
    replaces: str | None
    asset_id: str | None
    symbol: str | None
    asset_class: str | None
    notional: str | None
    qty: str | float | None
    filled_qty: str | float | None
    filled_avg_price: str | float | None
    order_class: str
    order_type: str | None
    type: str | None
    side: str | None
    time_in_force: str
    limit_price: str | float | None
    stop_price: str | float | None
    status: str
    extended_hours: bool
    legs: list[AlpacaOrderJson] | None
    trail_percent: str | None
    trail_price: str | None
    hwm: str | None
    position_intent: str | None
    ratio_qty: str | float | None


class RunnerOrder(AlpacaOrderJson):
    """An order as GET /v1/orders/{id}, GET /v1/orders/client/{id} and each GET /v1/orders entry answer
    it: lines 255-258, 274-277, 291-293."""

    execution_adapter: Literal["lean"] = Field(alias="_execution_adapter")


class SubmittedOrder(RunnerOrder):
    """POST /v1/orders/submit, `_build_submitted_order_response` lines 461-477; an idempotent replay
    (lines 171-181) is the cached answer with a fresh `_lean_audit` whose `idempotent_replay` is true."""

    lean_contract_version: Literal["v2"] = Field(alias="_lean_contract_version")
    lean_audit: LeanAudit = Field(alias="_lean_audit")


class OrderList(_Strict):
    """GET /v1/orders?status=open|closed|all (default all), lines 280-295."""

    orders: list[RunnerOrder]


class CancelAnswer(_Strict):
    """POST /v1/orders/{order_id}/cancel, lines 204-222: no order state, only `ok` (always true)."""

    ok: bool
    lean_audit: LeanAudit = Field(alias="_lean_audit")


class AlpacaCancelOrderResponse(_Strict):
    """alpaca-py `CancelOrderResponse` dumped: the per-order HTTP status of Alpaca's DELETE /v2/orders."""

    id: str
    status: int
    body: dict[str, Any] | None


class CancelAllAnswer(_Strict):
    """POST /v1/orders/cancel-all, lines 225-242."""

    orders: list[AlpacaCancelOrderResponse]
    lean_audit: LeanAudit = Field(alias="_lean_audit")


class ShadowSimulateAnswer(_Strict):
    """POST /v1/shadow/simulate, lines 357-381."""

    symbol: str
    side: str
    qty: float
    simulated_fill_price: float
    simulated_slippage_bps: float
    parity_status: Literal["pass", "drift"]
    failure_taxonomy: Literal["execution_quality_drift"] | None
    lean_audit: LeanAudit = Field(alias="_lean_audit")


class ObservabilityAnswer(_Strict):
    """GET /v1/observability, lines 151-157 (metrics: `_RunnerMetrics.snapshot`, lines 109-124)."""

    service: Literal["torghut-lean-runner"]
    contract_version: Literal["lean-v2"]
    metrics: dict[str, dict[str, Any]]


class HttpErrorBody(_Strict):
    """FastAPI's answer to `HTTPException` (404 order_not_found, 502 lean_*_failed, 404/405 routing)."""

    detail: str


class ValidationErrorItem(_Strict):
    type: str
    loc: list[str | int]
    msg: str
    input: Any
    ctx: dict[str, Any] | None = None


class ValidationErrorBody(_Strict):
    """FastAPI's 422 `RequestValidationError` answer."""

    detail: list[ValidationErrorItem]
