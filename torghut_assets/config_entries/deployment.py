"""Where the code location runs and keeps its state: the profile, the ledger, the artifact store, the
Dagster home and the Dagster instance's own storage.

Why these stand together: they are what a deployment sets once per environment (a Helm release), not what a
desk tunes, and `production_required` on them is what stops a production pod from quietly writing its
ledger to a SQLite file under a temporary home.
"""

from __future__ import annotations

from torghut_assets.domain.universe_policy import PROFILES, Profile
from torghut_assets.env_setting import INSTANCE, EnvSetting

DEPLOYMENT: tuple[EnvSetting, ...] = (
    EnvSetting(
        "TORGHUT_ENV",
        "choice",
        "profile: production refuses the simulator, static universes and missing credentials at load",
        default=Profile.DEV.value,
        choices=PROFILES,
    ),
    EnvSetting(
        "TORGHUT_DATABASE_URL",
        "url",
        "SQLAlchemy URL of the ledger (PostgreSQL in production); holds the database password",
        when_unset="SQLite file under $DAGSTER_HOME",
        production_required=True,
        secret=True,
    ),
    EnvSetting(
        "TORGHUT_ARTIFACT_ROOT",
        "path",
        "folder of the content-addressed evidence artifacts; shared by every run pod in production",
        when_unset="$DAGSTER_HOME/artifacts",
        production_required=True,
    ),
    EnvSetting(
        "TORGHUT_ARTIFACT_BASE_URL",
        "url",
        "URL at which a browser reaches the artifact root (`torghut-assets artifacts serve`, or an ingress "
        "in front of it); the UI then links artifacts and shows plots inline",
        when_unset="artifacts are shown by content and relative path, plots are not shown inline",
    ),
    EnvSetting(
        "TORGHUT_RUN_LAUNCHER",
        "choice",
        "the instance's run launcher: k8s puts each job's pod size on it as a dagster-k8s/config tag; "
        "local (dagster dev, one process per run) leaves runs with only their torghut/ tags",
        default="local",
        choices=("local", "k8s"),
    ),
    EnvSetting(
        "DAGSTER_HOME",
        "path",
        "Dagster instance folder (dagster.yaml); in dev also the ledger, artifacts and approval secret",
        when_unset=".dagster_home under the working directory",
    ),
)

# The ledger's data-quality checks run Great Expectations, whose analytics call home unless told not to.
QUALITY_CHECKS: tuple[EnvSetting, ...] = (
    EnvSetting(
        "GX_ANALYTICS_ENABLED",
        "bool",
        "Great Expectations usage analytics; the ledger's quality checks turn it off unless set",
        default="false",
    ),
)

# Read by dagster.yaml, not by this package: declared so `config check` and the Helm values cover them.
INSTANCE_STORAGE: tuple[EnvSetting, ...] = (
    EnvSetting("DAGSTER_PG_HOST", "str", "host of Dagster's run/event/schedule storage", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_PORT", "int", "port of Dagster's storage database", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_DB", "str", "database name of Dagster's storage", read_by=INSTANCE),
    EnvSetting("DAGSTER_PG_USER", "str", "user of Dagster's storage database", read_by=INSTANCE),
    EnvSetting(
        "DAGSTER_PG_PASSWORD", "str", "password of Dagster's storage database", secret=True, read_by=INSTANCE
    ),
)

__all__ = ["DEPLOYMENT", "INSTANCE_STORAGE", "QUALITY_CHECKS"]
