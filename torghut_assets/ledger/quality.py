"""Data quality of the ledger *at rest*, checked with great-expectations suites run inside the database.

The write path already validates each frame before it is stored (pandera, CHECK/UNIQUE constraints). This
module answers a different question: is what is *in* the ledger now still sound — after migrations, manual
repairs, restores or writers that bypassed the pipeline? Each suite is a versioned JSON file under
`quality_suites/` (one per table that matters) so a rule change is a reviewed diff, not code.

Design choices:
- GX runs through a SQL datasource, so every metric is an aggregate query computed by SQLite/PostgreSQL;
  no table is loaded into pandas, which keeps the check cheap on a large ledger.
- great_expectations is imported inside the functions: importing it takes seconds, and a Dagster code
  location that imports this module must not pay that at load.
- The GX context is ephemeral (in-memory stores) with one filesystem Data Docs site in `docs_dir`: nothing is
  written to the user's home or the ledger, and analytics are disabled.
- Fail closed: an unreachable database, a missing table or an expectation that errors comes back as a
  failed `SuiteResult` naming the problem, never as a silent pass or an unhandled exception.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

SUITE_DIR = Path(__file__).with_name("quality_suites")
SUITES: tuple[str, ...] = (
    "executions",
    "trade_decisions",
    "research_runs",
    "research_fold_metrics",
    "research_candidates",
)
"""Suite names; each suite validates the ledger table of the same name."""

DOCS_SITE = "ledger_quality"
_DATASOURCE = "ledger"
_MAX_UNEXPECTED = 5


@dataclass(frozen=True)
class SuiteResult:
    """Outcome of one suite on one table; `failed` is empty exactly when `success` is true."""

    suite: str
    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    data_docs_index: str | None = None
    statistics: dict[str, Any] = field(default_factory=dict)


def load_suite(name: str) -> dict[str, Any]:
    """The suite's JSON document (name, meta with `suite_version`, expectations)."""
    path = SUITE_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no expectation suite {name!r} (expected {path})")
    spec: dict[str, Any] = json.loads(path.read_text())
    if spec.get("name") != name:
        raise ValueError(f"{path} declares name {spec.get('name')!r}, expected {name!r}")
    return spec


def run_suites(
    database_url: str, *, suites: Sequence[str] = SUITES, docs_dir: str | Path
) -> list[SuiteResult]:
    """Validate `suites` against the ledger at `database_url` and render Data Docs into `docs_dir`.

    Returns one result per suite, in order. Unknown or repeated suite names raise `ValueError` (a caller
    bug); every problem with the database itself comes back as a failed result.
    """
    if len(set(suites)) != len(suites):
        raise ValueError(f"suites repeated: {list(suites)}")
    specs = [load_suite(name) for name in suites]
    docs_dir = Path(docs_dir).resolve()
    context = _ephemeral_context(docs_dir)
    try:
        datasource = _add_datasource(context, database_url)
    except Exception as exc:
        return [_problem(spec["name"], f"cannot open the ledger: {_one_line(exc)}") for spec in specs]
    try:
        results = [_validate(context, datasource, spec) for spec in specs]
    finally:
        _dispose_engines(datasource)
    index = _build_docs(context, docs_dir) if any(r.statistics for r in results) else None
    # only suites that were actually validated have a page in the site
    return [replace(r, data_docs_index=index) if r.statistics else r for r in results]


def _validate(context: Any, datasource: Any, spec: dict[str, Any]) -> SuiteResult:
    """One suite against the whole table of the same name."""
    import great_expectations as gx

    name = spec["name"]
    try:
        asset = datasource.add_table_asset(name=name, table_name=name)  # GX probes the table here
    except Exception as exc:
        return _problem(name, f"table {name!r} not readable: {_one_line(exc)}")
    try:
        suite = context.suites.add(gx.ExpectationSuite(**spec))
        if len(suite.expectations) != len(spec["expectations"]):
            # GX drops (and only logs) expectations it cannot parse; a typo must not weaken the suite.
            return _problem(name, "suite file has expectations GX could not parse (see the GX log)")
        batch = asset.add_batch_definition_whole_table("whole_table")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        outcome = definition.run(result_format="SUMMARY")  # also stores the result for Data Docs
    except Exception as exc:
        return _problem(name, f"validation did not run: {_one_line(exc)}")
    failed = [_failure(r) for r in outcome.results if not r.success]
    statistics = dict(outcome.statistics)
    return SuiteResult(
        suite=name,
        success=bool(outcome.success) and not failed,
        evaluated=int(statistics.get("evaluated_expectations", 0)),
        failed=failed,
        statistics=statistics,
    )


def _ephemeral_context(docs_dir: Path) -> Any:
    """In-memory stores plus one filesystem Data Docs site: no project directory, no home, no analytics."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # read at import; the config below decides
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),  # tqdm bars would flood the Dagster run log
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _add_datasource(context: Any, database_url: str) -> Any:
    """Register the ledger; GX opens a connection here, so an unreachable database fails now."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    connection_string = url.render_as_string(hide_password=False)
    if backend == "sqlite":
        if url.database not in (None, "", ":memory:") and not Path(url.database).is_file():
            # connecting would silently create an empty ledger file at a mistyped path
            raise FileNotFoundError(f"no SQLite ledger at {url.database}")
        return context.data_sources.add_sqlite(_DATASOURCE, connection_string=connection_string)
    if backend == "postgresql":
        connect_args = {"connect_timeout": 10, "application_name": "torghut_assets_quality"}
        return context.data_sources.add_postgres(
            _DATASOURCE,
            connection_string=connection_string,
            kwargs={"connect_args": connect_args},
        )
    raise ValueError(f"unsupported ledger backend {backend!r}: use sqlite or postgresql")


def _dispose_engines(datasource: Any) -> None:
    """Close GX's pooled connections now: GX never disposes its engines, so they would otherwise hold
    PostgreSQL backends (and the SQLite file) for as long as the process keeps the context alive.

    (`NullPool` is no alternative: GX fetches rows after returning the connection to the pool.)
    """
    try:
        datasource.get_execution_engine().engine.dispose()
        datasource.get_engine().dispose()
    except Exception:
        pass  # best effort: the results are already computed


def _failure(result: Any) -> dict[str, Any]:
    """One failed expectation, summarized so an operator can act without opening Data Docs."""
    config = result.expectation_config
    kwargs = {
        k: v for k, v in config.kwargs.items() if v is not None and k not in ("batch_id", "result_format")
    }
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs] + list(
        kwargs.get("column_list", [])
    )
    detail = result.result or {}
    entry: dict[str, Any] = {
        "expectation_type": config.type,
        "columns": columns,
        "kwargs": {k: _jsonable(v) for k, v in kwargs.items()},
        "observed_value": _jsonable(detail.get("observed_value")),
        "unexpected_count": detail.get("unexpected_count"),
        "unexpected_values": _jsonable(list(detail.get("partial_unexpected_list") or [])[:_MAX_UNEXPECTED]),
    }
    errors = _exception_messages(result.exception_info)
    if errors:
        entry["exception"] = "; ".join(errors)
    return entry


def _exception_messages(info: dict[str, Any] | None) -> list[str]:
    """GX reports an expectation's own error flat, but metric errors keyed by metric id; accept both."""
    if not info:
        return []
    nested = [v for v in info.values() if isinstance(v, dict)] if "raised_exception" not in info else [info]
    return sorted({str(i.get("exception_message")) for i in nested if i.get("raised_exception")})


def _build_docs(context: Any, docs_dir: Path) -> str | None:
    """Render the Data Docs site; a rendering failure must not hide the validation results."""
    try:
        context.build_data_docs(site_names=[DOCS_SITE])
    except Exception:
        return None
    index = docs_dir / "index.html"
    return str(index) if index.is_file() else None


def _problem(name: str, message: str) -> SuiteResult:
    return SuiteResult(
        suite=name,
        success=False,
        evaluated=0,
        failed=[{"expectation_type": None, "columns": [], "problem": message}],
        statistics={},
    )


def _jsonable(value: Any) -> Any:
    """Observed values come back as numpy/Decimal/datetime; keep the summary plain JSON."""
    return json.loads(json.dumps(value, default=str))


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
