"""LLM advisory: policy, strict response schema, verdict resolution, circuit breaker and
error budget.

The advisory reviews a deterministic decision and answers approve / veto / adjust / abstain / escalate.
It never submits orders, never bypasses risk and never promotes. What its answer does is decided here,
by policy, not by the model:

- **shadow** (stage0, stage1, `LLM_SHADOW_MODE`, a missing stage-2/3 prerequisite, a spent error budget,
  a blocked request) records the review and changes nothing;
- at **stage2** (paper only) and **stage3** a veto rejects the decision (`llm_veto`), an adjustment
  changes qty within [0.5x, 1.25x] and market<->limit only, and only when adjustments are both allowed
  and approved;
- an **error** (transport, unparseable or truncated answer, schema violation, open circuit) takes the
  fail mode: `veto` rejects with `llm_error`, `pass_through` lets the deterministic decision proceed.
  `strict_veto` enforcement forces `veto`; `pass_through` while trading live needs
  `LLM_FAIL_OPEN_LIVE_APPROVED`.
- a **refusal** (the model's `refusal` message, or `finish_reason: content_filter`) is not an error: the
  model declined to review, so it resolves like `abstain` (`abstain_fail_mode`), is counted on its own
  and spends neither the error budget nor the circuit breaker.

Pure: no I/O and no clock. Times are epoch seconds passed in by the caller.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from torghut_assets.domain.evidence import canonical_json, sha256_hex

PROMPT_VERSION = "torghut-review-v1"


class RolloutStage(StrEnum):
    STAGE0 = "stage0_baseline"
    STAGE1 = "stage1_shadow_pilot"
    STAGE2 = "stage2_paper_advisory"
    STAGE3 = "stage3_controlled_live"


STAGE_ORDER: tuple[RolloutStage, ...] = tuple(RolloutStage)

VERDICTS = ("approve", "veto", "adjust", "abstain", "escalate")
VERDICT_ERROR = "error"
VERDICT_REFUSAL = "refusal"

FAIL_VETO = "veto"
FAIL_PASS_THROUGH = "pass_through"
FAIL_MODES = (FAIL_VETO, FAIL_PASS_THROUGH)
ENFORCE_STRICT_VETO = "strict_veto"
ENFORCE_CONFIGURED = "configured"
ENFORCEMENTS = (ENFORCE_STRICT_VETO, ENFORCE_CONFIGURED)
TRADING_MODES = ("paper", "live")


class AdvisoryAction(StrEnum):
    """What a review resolves to for its decision: nothing, a veto (reject it) or an adjustment."""

    NONE = "none"
    VETO = "veto"
    ADJUST = "adjust"


REJECT_LLM_VETO = "llm_veto"
REJECT_LLM_ERROR = "llm_error"
LLM_REJECT_CODES = frozenset({REJECT_LLM_VETO, REJECT_LLM_ERROR})

# Error kinds. The first three spend the error budget; the last two are calls never made.
ERROR_PARSE = "parse"
ERROR_VALIDATION = "validation"
ERROR_TRANSPORT = "transport"
ERROR_CIRCUIT_OPEN = "circuit_open"
ERROR_BLOCKED = "blocked"
BUDGET_ERROR_KINDS = frozenset({ERROR_PARSE, ERROR_VALIDATION, ERROR_TRANSPORT})
ERROR_KINDS = (ERROR_PARSE, ERROR_VALIDATION, ERROR_TRANSPORT, ERROR_CIRCUIT_OPEN, ERROR_BLOCKED)
ERROR_TRUNCATED = "truncated"
"""The code of a parse error whose answer stopped at the token limit (`finish_reason: length`)."""

# A refusal is an answer, not an error; its kind shares the `error_kind` column with the non-answers.
OUTCOME_REFUSAL = "refusal"
REFUSAL_MODEL = "model_refusal"
REFUSAL_CONTENT_FILTER = "content_filter"
FINISH_LENGTH = "length"
FINISH_CONTENT_FILTER = "content_filter"

ADJUSTABLE_ORDER_TYPES = ("market", "limit")
MAX_RATIONALE_CHARS = 2000
MAX_RISK_FLAGS = 20
MAX_RISK_FLAG_CHARS = 64
MAX_ORDER_TYPE_CHARS = 16


@dataclass(frozen=True)
class AdvisoryPolicy:
    """Every field is read from `LLM_<FIELD NAME IN UPPER CASE>`; defaults are the reference's, stage1
    excepted (docs/llm-advisory.md, "Where the defaults and guardrails come from").

    The error-budget fields are additions (not in the reference): spent when parse+validation+transport
    errors exceed `error_budget_max_rate` of max(attempted reviews, `error_budget_min_reviews`) over the last
    `error_budget_window_hours` of lane windows, or guardrail mismatches exceed `mismatch_budget_max_rate`
    of the same. The floor keeps one transient error in a quiet hour from spending it; two do.
    """

    enabled: bool = False
    shadow_mode: bool = False
    rollout_stage: RolloutStage = RolloutStage.STAGE1
    fail_mode: str = FAIL_VETO
    fail_mode_enforcement: str = ENFORCE_STRICT_VETO
    fail_open_live_approved: bool = False
    min_confidence: float = 0.5
    abstain_fail_mode: str = FAIL_PASS_THROUGH
    escalate_fail_mode: str = FAIL_VETO
    quality_fail_mode: str = FAIL_VETO
    adjustment_allowed: bool = False
    adjustment_approved: bool = False
    min_qty_multiplier: float = 0.5
    max_qty_multiplier: float = 1.25
    max_tokens: int = 300
    token_budget_max: int = 1200
    timeout_seconds: float = 20.0
    circuit_max_errors: int = 3
    circuit_window_seconds: float = 300.0
    circuit_cooldown_seconds: float = 600.0
    allowed_models: tuple[str, ...] = ()
    allowed_prompt_versions: tuple[str, ...] = ()
    evaluation_report: str | None = None
    effective_challenge_id: str | None = None
    shadow_completed_at: str | None = None
    model_version_lock: str | None = None
    error_budget_max_rate: float = 0.10
    mismatch_budget_max_rate: float = 0.10
    error_budget_window_hours: float = 24.0
    error_budget_min_reviews: int = 10

    def problems(self) -> list[str]:
        """Values no run can use, named by their environment variable."""
        found: list[str] = []
        for name in ("fail_mode", "abstain_fail_mode", "escalate_fail_mode", "quality_fail_mode"):
            if getattr(self, name) not in FAIL_MODES:
                found.append(f"{env_name(name)}={getattr(self, name)!r} is not one of veto, pass_through")
        if self.fail_mode_enforcement not in ENFORCEMENTS:
            found.append(
                f"LLM_FAIL_MODE_ENFORCEMENT={self.fail_mode_enforcement!r} is not one of "
                + ", ".join(ENFORCEMENTS)
            )
        for name in ("min_confidence", "error_budget_max_rate", "mismatch_budget_max_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                found.append(f"{env_name(name)} must be within [0, 1], got {getattr(self, name)}")
        if not 0.0 < self.min_qty_multiplier <= 1.0 <= self.max_qty_multiplier:
            found.append(
                "LLM_MIN_QTY_MULTIPLIER / LLM_MAX_QTY_MULTIPLIER must satisfy 0 < min <= 1 <= max, got "
                f"{self.min_qty_multiplier} / {self.max_qty_multiplier}"
            )
        for name in ("max_tokens", "circuit_max_errors", "error_budget_min_reviews"):
            if getattr(self, name) < 1:
                found.append(f"{env_name(name)} must be >= 1, got {getattr(self, name)}")
        if self.token_budget_max < self.max_tokens:
            found.append(
                f"LLM_TOKEN_BUDGET_MAX={self.token_budget_max} is below LLM_MAX_TOKENS={self.max_tokens}"
            )
        for name in (
            "timeout_seconds",
            "circuit_window_seconds",
            "circuit_cooldown_seconds",
            "error_budget_window_hours",
        ):
            if not getattr(self, name) > 0:
                found.append(f"{env_name(name)} must be > 0, got {getattr(self, name)}")
        return found

    def stage_prerequisites_missing(self, model: str | None) -> list[str]:
        """What stage 2-3 needs before a review may change anything (docs/llm-advisory.md, "Where the
        defaults and guardrails come from")."""
        missing: list[str] = []
        if not self.allowed_models:
            missing.append("model_inventory_missing")
        elif model not in self.allowed_models:
            missing.append("model_not_in_inventory")
        if not self.evaluation_report:
            missing.append("evaluation_report_missing")
        if not self.effective_challenge_id:
            missing.append("challenge_id_missing")
        if not self.shadow_completed_at:
            missing.append("shadow_completion_missing")
        if not self.model_version_lock:
            missing.append("model_version_lock_missing")
        return missing


def env_name(field_name: str) -> str:
    return f"LLM_{field_name.upper()}"


def parse_stage(raw: str) -> RolloutStage | None:
    """`stage2` or `stage2_paper_advisory`; None when neither."""
    text = raw.strip().lower()
    for stage in RolloutStage:
        if text in (stage.value, stage.value.split("_", 1)[0]):
            return stage
    return None


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_policy(env: Mapping[str, str]) -> tuple[AdvisoryPolicy, list[str]]:
    """The policy from `LLM_*` variables (unset or blank = default) and every problem with them."""
    defaults = AdvisoryPolicy()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for spec in dataclasses.fields(AdvisoryPolicy):
        name = env_name(spec.name)
        raw = env.get(name, "").strip()
        if not raw:
            continue
        default = getattr(defaults, spec.name)
        if isinstance(default, bool):
            if raw.lower() not in (*_TRUE, *_FALSE):
                problems.append(f"{name}={raw!r} is not a boolean (true/false)")
                continue
            values[spec.name] = raw.lower() in _TRUE
        elif isinstance(default, RolloutStage):
            stage = parse_stage(raw)
            if stage is None:
                problems.append(f"{name}={raw!r} is not one of stage0..stage3")
                continue
            values[spec.name] = stage
        elif isinstance(default, int | float):
            number = _number(raw, integer=isinstance(default, int))
            if number is None:
                kind = "an integer" if isinstance(default, int) else "a finite number"
                problems.append(f"{name}={raw!r} is not {kind}")
                continue
            values[spec.name] = number
        elif isinstance(default, tuple):
            values[spec.name] = tuple(item.strip() for item in raw.split(",") if item.strip())
        else:
            values[spec.name] = raw.lower() if spec.name.endswith(("fail_mode", "enforcement")) else raw
    policy = replace(defaults, **values)
    return policy, problems + policy.problems()


def _number(raw: str, *, integer: bool) -> float | int | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


def policy_contradictions(
    policy: AdvisoryPolicy, *, base_url: str | None, model: str | None, trading_mode: str
) -> list[str]:
    """Settings a production profile refuses: they cannot all hold at once, or ask for a stage the
    guardrails would silently force back to shadow."""
    if not policy.enabled:
        return []
    found: list[str] = []
    if not base_url:
        found.append("LLM_ENABLED=true needs LLM_BASE_URL")
    if not model:
        found.append("LLM_ENABLED=true needs LLM_MODEL")
    if policy.adjustment_approved and not policy.adjustment_allowed:
        found.append("LLM_ADJUSTMENT_APPROVED=true without LLM_ADJUSTMENT_ALLOWED=true")
    acting = not policy.shadow_mode and policy.rollout_stage in (RolloutStage.STAGE2, RolloutStage.STAGE3)
    if acting:
        missing = policy.stage_prerequisites_missing(model)
        if missing:
            found.append(f"LLM_ROLLOUT_STAGE={policy.rollout_stage.value} is missing {', '.join(missing)}")
        if policy.rollout_stage is RolloutStage.STAGE2 and trading_mode == "live":
            found.append("LLM_ROLLOUT_STAGE=stage2 is paper-only but TRADING_MODE=live")
    pass_through_live = (
        policy.fail_mode == FAIL_PASS_THROUGH
        and policy.fail_mode_enforcement == ENFORCE_CONFIGURED
        and trading_mode == "live"
        and not policy.fail_open_live_approved
    )
    if acting and pass_through_live:
        found.append("LLM_FAIL_MODE=pass_through while live needs LLM_FAIL_OPEN_LIVE_APPROVED=true")
    return found


# --- the response schema -------------------------------------------------------------------------------

RESPONSE_FIELDS = ("verdict", "confidence", "rationale", "risk_flags", "adjusted_qty", "adjusted_order_type")
REQUIRED_FIELDS = ("verdict", "confidence", "rationale", "risk_flags")

RESPONSE_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": list(RESPONSE_FIELDS),
    "properties": {
        "verdict": {"type": "string", "enum": list(VERDICTS)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "rationale": {"type": "string", "maxLength": MAX_RATIONALE_CHARS},
        "risk_flags": {"type": "array", "items": {"type": "string"}, "maxItems": MAX_RISK_FLAGS},
        "adjusted_qty": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "adjusted_order_type": {"type": ["string", "null"], "enum": [*ADJUSTABLE_ORDER_TYPES, None]},
    },
}
"""For `response_format: json_schema`; the adapter defaults to `json_object` plus `validate_review`."""


@dataclass(frozen=True)
class ReviewResponse:
    verdict: str
    confidence: float
    rationale: str
    risk_flags: tuple[str, ...]
    adjusted_qty: float | None = None
    adjusted_order_type: str | None = None


@dataclass(frozen=True)
class ReviewError:
    """A review without a usable answer. `kind` is one of ERROR_KINDS; `code` is specific
    (`malformed_json`, `schema_violation`, `timeout`, `http_500`, `circuit_open`, ...)."""

    kind: str
    code: str
    detail: str = ""
    problems: tuple[str, ...] = ()

    @property
    def spends_budget(self) -> bool:
        return self.kind in BUDGET_ERROR_KINDS


@dataclass(frozen=True)
class ReviewRefusal:
    """The model declined to review: its `refusal` message (`code` `model_refusal`) or a content filter
    (`content_filter`). Not an error: it resolves like `abstain` and spends no error budget."""

    code: str
    detail: str = ""

    kind = OUTCOME_REFUSAL
    problems: tuple[str, ...] = ()

    @property
    def spends_budget(self) -> bool:
        return False


ReviewOutcome = ReviewResponse | ReviewError | ReviewRefusal


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValueError(f"duplicate keys {duplicated}")
    return dict(pairs)


def parse_review(text: str) -> ReviewOutcome:
    """Strict: one JSON object, no NaN/Infinity, no duplicate keys, then `validate_review`."""
    try:
        payload = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        return ReviewError(ERROR_PARSE, "malformed_json", f"{exc}: {text[:120]!r}")
    return validate_review(payload)


def judge_answer(text: str, *, refusal: str | None = None, finish_reason: str | None = None) -> ReviewOutcome:
    """What an answer is: a refusal (a refusal message, or content filtered), else `parse_review` of its
    text, where an unparseable text that stopped at the token limit (`finish_reason: length`) is a parse
    error of its own code, `truncated`. A complete, valid object is taken whatever the finish reason
    (the reference parses the content and never looks at it)."""
    if refusal is not None and refusal.strip():
        return ReviewRefusal(REFUSAL_MODEL, refusal.strip()[:MAX_RATIONALE_CHARS])
    if finish_reason == FINISH_CONTENT_FILTER:
        return ReviewRefusal(REFUSAL_CONTENT_FILTER, "finish_reason=content_filter")
    outcome = parse_review(text)
    if finish_reason == FINISH_LENGTH and isinstance(outcome, ReviewError) and outcome.kind == ERROR_PARSE:
        return ReviewError(
            ERROR_PARSE,
            ERROR_TRUNCATED,
            f"finish_reason=length: answer cut at the token limit; {outcome.detail}",
        )
    return outcome


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_review(payload: Any) -> ReviewOutcome:
    """Every schema problem, as `field:code`; any problem makes the whole answer a validation error."""
    if not isinstance(payload, dict):
        return ReviewError(
            ERROR_VALIDATION, "schema_violation", "answer is not a JSON object", ("payload:not_an_object",)
        )
    problems = [f"{key}:unknown_field" for key in sorted(set(payload) - set(RESPONSE_FIELDS))]
    problems += [f"{key}:missing" for key in REQUIRED_FIELDS if key not in payload]
    verdict: Any = payload.get("verdict")
    if "verdict" in payload and verdict not in VERDICTS:
        problems.append("verdict:invalid")
    confidence: Any = payload.get("confidence")
    if "confidence" in payload and not (_is_number(confidence) and 0.0 <= confidence <= 1.0):
        problems.append("confidence:not_in_0_1")
    rationale: Any = payload.get("rationale")
    if "rationale" in payload and not (
        isinstance(rationale, str) and rationale.strip() != "" and len(rationale) <= MAX_RATIONALE_CHARS
    ):
        problems.append("rationale:invalid")
    flags: Any = payload.get("risk_flags")
    if "risk_flags" in payload and not (
        isinstance(flags, list)
        and len(flags) <= MAX_RISK_FLAGS
        and all(isinstance(f, str) and 0 < len(f) <= MAX_RISK_FLAG_CHARS for f in flags)
    ):
        problems.append("risk_flags:invalid")
    qty: Any = payload.get("adjusted_qty")
    order_type: Any = payload.get("adjusted_order_type")
    if verdict != "adjust":
        problems += [
            f"{k}:only_for_adjust"
            for k in ("adjusted_qty", "adjusted_order_type")
            if payload.get(k) is not None
        ]
    else:
        if qty is None and order_type is None:
            problems.append("adjust:no_adjustment")
        if qty is not None and not (_is_number(qty) and qty > 0):
            problems.append("adjusted_qty:not_positive")
        if order_type is not None and not (
            isinstance(order_type, str) and 0 < len(order_type) <= MAX_ORDER_TYPE_CHARS
        ):
            problems.append("adjusted_order_type:invalid")
    if problems:
        return ReviewError(ERROR_VALIDATION, "schema_violation", "; ".join(problems), tuple(problems))
    adjusting = verdict == "adjust"
    return ReviewResponse(
        verdict=str(verdict),
        confidence=float(confidence),
        rationale=str(rationale),
        risk_flags=tuple(flags),
        adjusted_qty=float(qty) if adjusting and qty is not None else None,
        adjusted_order_type=str(order_type).lower() if adjusting and order_type is not None else None,
    )


# --- prompt, hashes, token budget -------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You review one trade decision of a deterministic intraday strategy. You cannot place, cancel or "
    "size orders yourself; risk checks already passed. Answer with ONE JSON object and nothing else: "
    '{"verdict": "approve"|"veto"|"adjust"|"abstain"|"escalate", "confidence": number in [0,1], '
    '"rationale": short string, "risk_flags": [strings], "adjusted_qty": number or null, '
    '"adjusted_order_type": "market"|"limit"|null}. adjusted_* only with verdict "adjust", qty within '
    "0.5x..1.25x of the decision's qty. No other keys."
)


def review_messages(decision_input: Mapping[str, Any]) -> tuple[str, str]:
    """(system, user) for one decision; the user message is the decision's canonical JSON."""
    return SYSTEM_PROMPT, canonical_json(decision_input)


def estimated_prompt_tokens(*texts: str) -> int:
    """~4 characters per token: conservative enough for a pre-flight budget check."""
    return sum(math.ceil(len(t) / 4) for t in texts)


def token_budget_block(policy: AdvisoryPolicy, *texts: str) -> ReviewError | None:
    """A request whose prompt plus `max_tokens` cannot fit the budget is blocked, never sent
    (docs/llm-advisory.md)."""
    needed = estimated_prompt_tokens(*texts) + policy.max_tokens
    if needed > policy.token_budget_max:
        return ReviewError(
            ERROR_BLOCKED,
            "token_budget_exceeded",
            f"~{needed} tokens needed, LLM_TOKEN_BUDGET_MAX={policy.token_budget_max}",
        )
    return None


def request_hash(model: str, prompt_version: str, system: str, user: str) -> str:
    return sha256_hex({"model": model, "prompt_version": prompt_version, "system": system, "user": user})


def model_version_hash(
    *, model: str, served_model: str | None, version_lock: str | None, prompt_version: str
) -> str:
    """Identifies what answered: configured and served model, the version lock, prompt and template."""
    return sha256_hex(
        {
            "model": model,
            "served_model": served_model,
            "version_lock": version_lock,
            "prompt_version": prompt_version,
            "system_prompt": sha256_hex(SYSTEM_PROMPT),
        }
    )


# --- mode and resolution -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvisoryMode:
    """Whether reviews of this window may change decisions; `shadow_reasons` says why not."""

    stage: RolloutStage
    trading_mode: str
    shadow_reasons: tuple[str, ...] = ()
    blocked_reason: str | None = None

    @property
    def shadow(self) -> bool:
        return bool(self.shadow_reasons)


def advisory_mode(
    policy: AdvisoryPolicy, *, trading_mode: str, model: str | None, prompt_version: str
) -> AdvisoryMode:
    reasons: list[str] = []
    stage = policy.rollout_stage
    if stage in (RolloutStage.STAGE0, RolloutStage.STAGE1):
        reasons.append(stage.value)
    if policy.shadow_mode:
        reasons.append("llm_shadow_mode")
    if stage is RolloutStage.STAGE2 and trading_mode != "paper":
        reasons.append("stage2_paper_only")
    if stage in (RolloutStage.STAGE2, RolloutStage.STAGE3):
        reasons += policy.stage_prerequisites_missing(model)
    blocked = None
    if policy.allowed_prompt_versions and prompt_version not in policy.allowed_prompt_versions:
        blocked = "prompt_not_allowlisted"
    return AdvisoryMode(stage, trading_mode, tuple(reasons), blocked)


def force_shadow(mode: AdvisoryMode, reason: str) -> AdvisoryMode:
    if reason in mode.shadow_reasons:
        return mode
    return replace(mode, shadow_reasons=(*mode.shadow_reasons, reason))


@dataclass(frozen=True)
class ReviewedDecision:
    symbol: str
    action: str
    qty: int
    order_type: str = "market"


@dataclass(frozen=True)
class Resolution:
    """What a review means for its decision.

    `action` is what the policy resolves to (none / veto / adjust); `applied` says whether it is carried
    out (never in shadow). `qty` and `order_type` are what the decision goes out with if applied.
    `mismatches` are guardrail overrides of the advisory (out-of-bounds qty, order type not allowed).
    """

    verdict: str
    effective_verdict: str
    action: AdvisoryAction
    applied: bool
    shadow: bool
    qty: int
    order_type: str
    reject_code: str | None = None
    fallback: str | None = None
    mismatches: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "effective_verdict": self.effective_verdict,
            "action": self.action,
            "applied": self.applied,
            "shadow": self.shadow,
            "qty": self.qty,
            "order_type": self.order_type,
            "reject_code": self.reject_code,
            "fallback": self.fallback,
            "mismatches": list(self.mismatches),
            "notes": list(self.notes),
        }

    def in_shadow(self) -> Resolution:
        return replace(self, applied=False, shadow=True)

    def under_spent_budget(self) -> Resolution:
        """A spent error budget may only make the advisory stricter: an applied veto stays applied (an
        LLM outage must never turn fail-closed into fail-open); everything else goes to shadow."""
        if self.applied and self.action == AdvisoryAction.VETO:
            return self
        return self.in_shadow()


def resolved_fail_mode(policy: AdvisoryPolicy, configured: str, trading_mode: str, *, error: bool) -> str:
    """`strict_veto` enforcement turns an error's fail mode into veto; live pass_through needs approval."""
    mode = FAIL_VETO if error and policy.fail_mode_enforcement == ENFORCE_STRICT_VETO else configured
    if mode == FAIL_PASS_THROUGH and trading_mode == "live" and not policy.fail_open_live_approved:
        return FAIL_VETO
    return mode


def bounded_adjustment(
    response: ReviewResponse, decision: ReviewedDecision, policy: AdvisoryPolicy
) -> tuple[int, str, tuple[str, ...]]:
    """(qty, order_type, mismatches): qty rounded and clamped to [min, max] x qty (at least 1 share),
    order type switched only between market and limit."""
    low = max(1, math.ceil(decision.qty * policy.min_qty_multiplier - 1e-9))
    high = max(low, math.floor(decision.qty * policy.max_qty_multiplier + 1e-9))
    mismatches: list[str] = []
    qty = decision.qty
    if response.adjusted_qty is not None:
        proposed = round(response.adjusted_qty)
        qty = min(max(proposed, low), high)
        if qty != proposed:
            mismatches.append("adjusted_qty_out_of_bounds")
    order_type = decision.order_type
    wanted = response.adjusted_order_type
    if wanted is not None and wanted != decision.order_type:
        if wanted in ADJUSTABLE_ORDER_TYPES and decision.order_type in ADJUSTABLE_ORDER_TYPES:
            order_type = wanted
        else:
            mismatches.append("order_type_not_allowed")
    return qty, order_type, tuple(mismatches)


def effective_verdict(
    outcome: ReviewOutcome, decision: ReviewedDecision, policy: AdvisoryPolicy, mode: AdvisoryMode
) -> Resolution:
    """Resolve one review. Shadow changes nothing; a blocked request is shadow by definition."""
    shadow = mode.shadow or (isinstance(outcome, ReviewError) and outcome.kind == ERROR_BLOCKED)
    verdict = (
        VERDICT_ERROR
        if isinstance(outcome, ReviewError)
        else VERDICT_REFUSAL
        if isinstance(outcome, ReviewRefusal)
        else outcome.verdict
    )
    unchanged = Resolution(
        verdict=verdict,
        effective_verdict="approve",
        action=AdvisoryAction.NONE,
        applied=False,
        shadow=shadow,
        qty=decision.qty,
        order_type=decision.order_type,
    )
    if isinstance(outcome, ReviewError):
        return _fallback(unchanged, policy, mode, policy.fail_mode, "fail_mode", error=True)
    if isinstance(outcome, ReviewRefusal):
        refused = replace(unchanged, notes=(f"{OUTCOME_REFUSAL}:{outcome.code}",))
        return _fallback(refused, policy, mode, policy.abstain_fail_mode, "abstain_fail_mode")
    if outcome.verdict == "abstain":
        return _fallback(unchanged, policy, mode, policy.abstain_fail_mode, "abstain_fail_mode")
    if outcome.verdict == "escalate":
        return _fallback(unchanged, policy, mode, policy.escalate_fail_mode, "escalate_fail_mode")
    mismatches: tuple[str, ...] = ()
    qty, order_type = decision.qty, decision.order_type
    if outcome.verdict == "adjust":
        qty, order_type, mismatches = bounded_adjustment(outcome, decision, policy)
    unchanged = replace(unchanged, mismatches=mismatches)
    if outcome.confidence < policy.min_confidence:
        return _fallback(unchanged, policy, mode, policy.quality_fail_mode, "quality_fail_mode")
    if outcome.verdict == "veto":
        return _acting(unchanged, "veto", AdvisoryAction.VETO, reject_code=REJECT_LLM_VETO)
    if outcome.verdict == "adjust":
        if not (policy.adjustment_allowed and policy.adjustment_approved):
            return replace(unchanged, effective_verdict=FAIL_PASS_THROUGH, notes=("adjustment_not_allowed",))
        if (qty, order_type) == (decision.qty, decision.order_type):
            return replace(unchanged, notes=("adjustment_is_no_change",))
        return _acting(replace(unchanged, qty=qty, order_type=order_type), "adjust", AdvisoryAction.ADJUST)
    return unchanged


def _acting(
    base: Resolution, verdict: str, action: AdvisoryAction, reject_code: str | None = None
) -> Resolution:
    return replace(
        base, effective_verdict=verdict, action=action, applied=not base.shadow, reject_code=reject_code
    )


def _fallback(
    base: Resolution,
    policy: AdvisoryPolicy,
    mode: AdvisoryMode,
    configured: str,
    source: str,
    *,
    error: bool = False,
) -> Resolution:
    chosen = resolved_fail_mode(policy, configured, mode.trading_mode, error=error)
    based = replace(base, fallback=f"{source}:{chosen}")
    if chosen == FAIL_VETO:
        return _acting(based, "veto", AdvisoryAction.VETO, reject_code=REJECT_LLM_ERROR)
    return replace(based, effective_verdict=FAIL_PASS_THROUGH)


# --- circuit breaker -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CircuitBreaker:
    """Closed -> open after `max_errors` errors within `window_seconds`; open refuses calls for
    `cooldown_seconds`; then half-open lets one trial call through: success closes, error re-opens.

    Immutable: every `record_*` returns the next state; `now` is epoch seconds from the caller.
    """

    max_errors: int = 3
    window_seconds: float = 300.0
    cooldown_seconds: float = 600.0
    error_times: tuple[float, ...] = ()
    opened_at: float | None = None

    @classmethod
    def from_policy(cls, policy: AdvisoryPolicy) -> CircuitBreaker:
        return cls(policy.circuit_max_errors, policy.circuit_window_seconds, policy.circuit_cooldown_seconds)

    def state(self, now: float) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if now < self.opened_at + self.cooldown_seconds else "half_open"

    def allows(self, now: float) -> bool:
        return self.state(now) != "open"

    def _recent(self, now: float) -> tuple[float, ...]:
        return tuple(t for t in self.error_times if now - t < self.window_seconds)

    def record_error(self, now: float) -> CircuitBreaker:
        recent = (*self._recent(now), now)
        if self.opened_at is not None or len(recent) >= self.max_errors:
            return replace(self, error_times=recent, opened_at=now)
        return replace(self, error_times=recent)

    def record_success(self, now: float) -> CircuitBreaker:
        if self.opened_at is not None:
            return replace(self, error_times=(), opened_at=None)
        return replace(self, error_times=self._recent(now))

    def replay(self, events: Iterable[tuple[float, bool]]) -> CircuitBreaker:
        """Fold (time, was_error) events in time order, e.g. the ledger's recent reviews."""
        state = self
        for at, failed in sorted(events):
            state = state.record_error(at) if failed else state.record_success(at)
        return state

    def telemetry(self, now: float) -> dict[str, Any]:
        state = self.state(now)
        opened = self.opened_at
        remaining = 0.0
        if state == "open" and opened is not None:
            remaining = round(opened + self.cooldown_seconds - now, 3)
        return {
            "state": state,
            "open": state == "open",
            "opened_at": opened,
            "open_seconds": None if opened is None else round(max(0.0, now - opened), 3),
            "cooldown_remaining_seconds": remaining,
            "recent_error_count": len(self._recent(now)),
        }


# --- error budget ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewCounts:
    """Counts of reviews; `attempted` excludes calls never made (circuit open, blocked). `refusals` are
    answered calls, attempted but not errors."""

    reviews: int = 0
    attempted: int = 0
    parse_errors: int = 0
    validation_errors: int = 0
    transport_errors: int = 0
    circuit_open: int = 0
    blocked: int = 0
    mismatches: int = 0
    refusals: int = 0

    @classmethod
    def of(cls, error_kind: str | None, mismatch: bool) -> ReviewCounts:
        made = error_kind not in (ERROR_CIRCUIT_OPEN, ERROR_BLOCKED)
        return cls(
            reviews=1,
            attempted=int(made),
            parse_errors=int(error_kind == ERROR_PARSE),
            validation_errors=int(error_kind == ERROR_VALIDATION),
            transport_errors=int(error_kind == ERROR_TRANSPORT),
            circuit_open=int(error_kind == ERROR_CIRCUIT_OPEN),
            blocked=int(error_kind == ERROR_BLOCKED),
            mismatches=int(mismatch),
            refusals=int(error_kind == OUTCOME_REFUSAL),
        )

    def __add__(self, other: ReviewCounts) -> ReviewCounts:
        return ReviewCounts(
            *(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(ReviewCounts))
        )

    def times(self, n: int) -> ReviewCounts:
        return ReviewCounts(*(getattr(self, f.name) * n for f in dataclasses.fields(ReviewCounts)))

    @property
    def errors(self) -> int:
        return self.parse_errors + self.validation_errors + self.transport_errors

    def as_json(self) -> dict[str, int]:
        return {**dataclasses.asdict(self), "errors": self.errors}


def total(counts: Iterable[ReviewCounts]) -> ReviewCounts:
    result = ReviewCounts()
    for item in counts:
        result = result + item
    return result


@dataclass(frozen=True)
class BudgetStatus:
    counts: ReviewCounts
    error_rate: float
    mismatch_rate: float
    spent: bool
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts.as_json(),
            "error_rate": round(self.error_rate, 6),
            "mismatch_rate": round(self.mismatch_rate, 6),
            "spent": self.spent,
            "reasons": list(self.reasons),
        }


def evaluate_error_budget(counts: ReviewCounts, policy: AdvisoryPolicy) -> BudgetStatus:
    """Rates are over attempted reviews; "spent" judges them against max(attempted, min_reviews)."""
    judged = max(counts.attempted, policy.error_budget_min_reviews, 1)
    reasons: list[str] = []
    if counts.errors > policy.error_budget_max_rate * judged:
        reasons.append("llm_error_rate_exceeded")
    if counts.mismatches > policy.mismatch_budget_max_rate * judged:
        reasons.append("llm_guardrail_mismatch_rate_exceeded")
    attempted = max(counts.attempted, 1)
    return BudgetStatus(
        counts=counts,
        error_rate=counts.errors / attempted if counts.attempted else 0.0,
        mismatch_rate=counts.mismatches / attempted if counts.attempted else 0.0,
        spent=bool(reasons),
        reasons=tuple(reasons),
    )
