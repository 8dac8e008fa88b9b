"""The Dockerfile, the Helm values and docs/deploy.md agree with the code.

No Docker engine or Kubernetes cluster exists on the development machine, so these files are checked
by parsing: the module the code server loads, the variables and secrets the code reads (config
registry), the jobs and their pod sizes, the instance profile's run limits.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster_k8s.job import get_user_defined_k8s_config

from torghut_assets.config_registry import REGISTRY, SETTINGS
from torghut_assets.defs.pod_resources import (
    DEFAULT_RUN_POD,
    GOVERNANCE_POD,
    K8S_CONFIG_TAG,
    LANE_WINDOW_POD,
    RECONCILIATION_POD,
    REPORTS_POD,
    PodSize,
    RunLauncher,
    configured_run_launcher,
)
from torghut_assets.env_setting import CODE_LOCATION, INSTANCE
from torghut_assets.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
VALUES: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
(DEPLOYMENT,) = VALUES["dagster-user-deployments"]["deployments"]
PRODUCTION_INSTANCE: dict[str, Any] = yaml.safe_load(
    (REPO / "deploy" / "dagster.production.yaml").read_text()
)
DEPLOY_DOC = (REPO / "docs" / "deploy.md").read_text()
MODULE = "torghut_assets.definitions"
JOB_PODS = {
    "lane_window_job": LANE_WINDOW_POD,
    "nightly_reconciliation": RECONCILIATION_POD,
    "promotion_job": GOVERNANCE_POD,
    "rollback_job": GOVERNANCE_POD,
    "live_reevaluation_job": GOVERNANCE_POD,
    "governance_reports_job": REPORTS_POD,
}
SECRET_LOOKING = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|KEY_ID|CREDENTIAL|DATABASE_URL")
# What the cluster's Secrets hold, for checking that the values describe a loadable production profile.
SECRET_SAMPLES = {
    "TORGHUT_DATABASE_URL": "postgresql+psycopg2://torghut:pw@ledger-db:5432/torghut",
    "TORGHUT_SIGNAL_SOURCE_URL": "postgresql+psycopg2://ta_reader:pw@ta-db:5432/ta",
    "APCA_API_KEY_ID": "PKTEST",
    "APCA_API_SECRET_KEY": "not-a-real-secret",
}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    instructions, current = [], ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        text = line.strip()
        if text.startswith("#") or not (text or current):
            continue
        if text.endswith("\\"):
            current += text[:-1] + " "
            continue
        keyword, _, arguments = (current + text).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _exec_form(instruction: str, stage: list[tuple[str, str]]) -> list[str]:
    (arguments,) = [args for keyword, args in stage if keyword == instruction]
    return list(json.loads(arguments[arguments.index("[") :]))


def _env_lists(node: Any) -> Iterator[dict[str, Any]]:
    """Every entry of every `env:` list in the values, init containers included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                yield from value
            else:
                yield from _env_lists(value)
    elif isinstance(node, list):
        for item in node:
            yield from _env_lists(item)


def _secret_refs(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in entries if "valueFrom" in e}


def _doc_table(heading: str) -> list[list[str]]:
    """Rows (cells) of the first table under a docs/deploy.md heading."""
    section = DEPLOY_DOC.split(heading, 1)[1]
    rows = re.findall(r"^\|(.+)\|$", section.split("\n#", 1)[0], flags=re.MULTILINE)
    return [[cell.strip().strip("`") for cell in row.split("|")] for row in rows[2:]]


def test_the_code_server_loads_the_module_that_holds_the_definitions() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["dagster"]["module_name"] == MODULE
    assert importlib.util.find_spec(MODULE) is not None
    assert DEPLOYMENT["dagsterApiGrpcArgs"] == ["-m", MODULE]
    command = _exec_form("CMD", _final_stage())
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("-m") + 1] == MODULE


def test_the_image_serves_and_exposes_the_port_the_chart_connects_to() -> None:
    stage = _final_stage()
    port = str(DEPLOYMENT["port"])
    command = _exec_form("CMD", stage)
    assert command[command.index("-p") + 1] == port
    assert command[command.index("-h") + 1] == "0.0.0.0"
    assert [args for keyword, args in stage if keyword == "EXPOSE"] == [port]


def test_every_base_image_is_pinned_to_a_python_release() -> None:
    bases = [args.split()[0] for keyword, args in _dockerfile() if keyword == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base) for base in bases), bases


def test_the_image_runs_as_a_non_root_user_matching_the_pod_security_context() -> None:
    users = [args for keyword, args in _final_stage() if keyword == "USER"]
    assert users, "the final stage must switch to a non-root USER"
    uid = users[-1].split(":")[0]
    assert uid not in ("root", "0")
    assert DEPLOYMENT["podSecurityContext"]["runAsNonRoot"] is True
    assert str(DEPLOYMENT["podSecurityContext"]["runAsUser"]) == uid


def test_no_secret_is_baked_into_the_image() -> None:
    baked = []
    for keyword, arguments in _dockerfile():
        if keyword == "ENV":
            baked += [pair.partition("=")[0] for pair in shlex.split(arguments)]
        if keyword == "ARG":
            baked.append(arguments.partition("=")[0])
    assert "TORGHUT_ENV" in baked
    secrets = {s.name for s in REGISTRY if s.secret}
    assert [name for name in baked if name in secrets or SECRET_LOOKING.search(name)] == []


def test_the_image_installs_the_package_and_leaves_local_state_out_of_the_build() -> None:
    runs = " ".join(args for keyword, args in _dockerfile() if keyword == "RUN")
    assert re.search(r"pip install [^&]*\.(\s|$)", runs)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".dagster_home", ".git", "*.sqlite"} <= set(ignored)


def test_every_variable_the_values_set_is_declared_in_the_config_registry() -> None:
    names = [entry["name"] for entry in _env_lists(VALUES)]
    assert "TORGHUT_ENV" in names
    assert [name for name in names if name not in SETTINGS] == []


def test_secrets_reach_the_pods_only_from_kubernetes_secrets() -> None:
    for entry in _env_lists(VALUES):
        setting = SETTINGS[entry["name"]]
        if setting.secret or SECRET_LOOKING.search(setting.name):
            assert "value" not in entry, setting.name
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] and ref["key"], setting.name


def test_every_secret_the_code_location_reads_is_provided_and_the_required_ones_are_not_optional() -> None:
    refs = _secret_refs(DEPLOYMENT["env"])
    code_secrets = {s.name for s in REGISTRY if s.secret and s.read_by == CODE_LOCATION and not s.dev_only}
    assert set(refs) == code_secrets
    required = [s.name for s in REGISTRY if s.secret and s.production_required]
    assert required and [name for name in required if refs[name].get("optional")] == []


def test_the_values_set_no_dev_only_variable_such_as_an_approval_signing_secret() -> None:
    """Production holds no secret that can mint approvals: approvers sign with their own keys."""
    names = {entry["name"] for entry in _env_lists(VALUES)}
    assert names & {s.name for s in REGISTRY if s.dev_only} == set()
    assert "--from-literal=TORGHUT_APPROVAL_SECRET" not in DEPLOY_DOC


def test_dagster_storage_password_comes_from_the_named_secret() -> None:
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert VALUES["global"]["postgresqlSecretName"]
    assert VALUES["postgresql"]["enabled"] is False
    assert VALUES["postgresql"]["postgresqlPassword"] == ""
    assert SETTINGS["DAGSTER_PG_PASSWORD"].secret


def test_the_image_and_values_environment_loads_as_a_production_profile() -> None:
    image_env = dict(
        pair.split("=", 1)
        for keyword, args in _final_stage()
        if keyword == "ENV"
        for pair in shlex.split(args)
    )
    literal = {e["name"]: str(e["value"]) for e in DEPLOYMENT["env"] if "value" in e}
    secrets = {
        name: SECRET_SAMPLES[name]
        for name, ref in _secret_refs(DEPLOYMENT["env"]).items()
        if not ref.get("optional")
    }
    settings = load_settings({**image_env, **literal, **secrets})
    assert (settings.profile, settings.effective_signal_source) == ("production", "sql")


def test_the_ledger_is_migrated_by_the_deployment_image_before_the_code_server_starts() -> None:
    (init,) = DEPLOYMENT["initContainers"]
    image = DEPLOYMENT["image"]
    assert init["image"] == f"{image['repository']}:{image['tag']}"
    assert init["command"] == ["torghut-assets", "db", "upgrade"]
    ledger = _secret_refs(DEPLOYMENT["env"])["TORGHUT_DATABASE_URL"]
    assert _secret_refs(init["env"]) == {"TORGHUT_DATABASE_URL": ledger}


def test_the_artifact_root_is_a_volume_shared_with_the_runs() -> None:
    root = next(e["value"] for e in DEPLOYMENT["env"] if e["name"] == "TORGHUT_ARTIFACT_ROOT")
    (mount,) = [m for m in DEPLOYMENT["volumeMounts"] if m["mountPath"] == root]
    (volume,) = [v for v in DEPLOYMENT["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"]
    assert DEPLOYMENT["includeConfigInLaunchedRuns"]["enabled"] is True


# Loads the code location as the chart's code server does (TORGHUT_RUN_LAUNCHER from the values) and
# prints each job's tags: the tags are fixed when the jobs are defined, so another launcher needs a fresh
# interpreter.
_JOB_TAGS_SCRIPT = (
    "import json; from torghut_assets.definitions import defs; "
    "print(json.dumps({j.name: dict(j.tags) for j in defs.resolve_all_job_defs()}))"
)


def _values_env(name: str) -> str:
    return str(next(e["value"] for e in DEPLOYMENT["env"] if e["name"] == name))


@pytest.fixture(scope="module")
def job_pods(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any] | None]:
    env = {
        **os.environ,
        "TORGHUT_RUN_LAUNCHER": _values_env("TORGHUT_RUN_LAUNCHER"),
        "DAGSTER_HOME": str(tmp_path_factory.mktemp("k8s_home")),
    }
    out = subprocess.run(
        [sys.executable, "-c", _JOB_TAGS_SCRIPT], env=env, capture_output=True, text=True, check=True
    ).stdout
    tags: dict[str, dict[str, str]] = json.loads(out.strip().splitlines()[-1])
    return {
        name: get_user_defined_k8s_config(job_tags).container_config if K8S_CONFIG_TAG in job_tags else None
        for name, job_tags in tags.items()
    }


def test_the_helm_values_declare_the_k8s_run_launcher_to_the_code_location() -> None:
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    assert RunLauncher(_values_env("TORGHUT_RUN_LAUNCHER")) is RunLauncher.K8S


def test_under_the_default_launcher_no_job_carries_a_k8s_pod_tag() -> None:
    """A laptop's run list shows short `torghut/...` tags, not the pod-size JSON."""
    from torghut_assets.definitions import defs

    assert configured_run_launcher({}) is RunLauncher.LOCAL
    tagged = [job.name for job in defs.resolve_all_job_defs() if K8S_CONFIG_TAG in job.tags]
    assert tagged == [] and LANE_WINDOW_POD.tag(RunLauncher.LOCAL) == {}


def test_the_jobs_named_for_their_own_pod_size_carry_it_as_a_k8s_config_tag(
    job_pods: dict[str, dict[str, Any] | None],
) -> None:
    sized = {name: pod for name, pod in job_pods.items() if pod is not None}
    assert sized == {name: {"resources": pod.resources()} for name, pod in JOB_PODS.items()}


def test_jobs_without_a_tag_get_the_charts_default_run_pod() -> None:
    run_config = VALUES["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    assert run_config["containerConfig"]["resources"] == DEFAULT_RUN_POD.resources()


def test_the_deploy_doc_lists_each_jobs_pod_size() -> None:
    def row(pod: PodSize) -> list[str]:
        return [f"{pod.cpu_request} / {pod.cpu_limit}", f"{pod.memory_request} / {pod.memory_limit}"]

    rows = {cells[0]: cells[1:] for cells in _doc_table("### Pod size per job")}
    expected = {name: row(pod) for name, pod in JOB_PODS.items()}
    expected["any other job (chart `runK8sConfig`)"] = row(DEFAULT_RUN_POD)
    assert rows == expected


def test_run_limits_and_storage_scheme_match_the_production_instance_profile() -> None:
    runs = PRODUCTION_INSTANCE["concurrency"]["runs"]
    assert VALUES["concurrency"]["enabled"] is True
    assert VALUES["concurrency"]["runs"] == {
        "maxConcurrentRuns": runs["max_concurrent_runs"],
        "tagConcurrencyLimits": runs["tag_concurrency_limits"],
    }
    scheme = PRODUCTION_INSTANCE["storage"]["postgres"]["postgres_db"]["scheme"]
    assert VALUES["postgresql"]["postgresqlScheme"] == scheme


def test_the_instance_profiles_read_only_declared_instance_variables() -> None:
    names = set(
        re.findall(
            r"^\s*env:\s*([A-Z0-9_]+)\s*$",
            (REPO / "deploy" / "dagster.production.yaml").read_text(),
            flags=re.MULTILINE,
        )
    )
    assert names == {s.name for s in REGISTRY if s.read_by == INSTANCE}


def test_the_deploy_doc_lists_what_production_needs_and_every_secret() -> None:
    needed = [cells[0] for cells in _doc_table("## Variables production needs")]
    assert needed == [s.name for s in REGISTRY if s.production_required]
    secrets = [cells[:2] for cells in _doc_table("## Secrets")]
    assert secrets == [[s.name, s.read_by] for s in REGISTRY if s.secret]
