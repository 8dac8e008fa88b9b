"""Kubernetes pod sizes of the runs the K8sRunLauncher starts, as `dagster-k8s/config` job tags.

The tag is put on a job only when the deployment says its instance launches runs on Kubernetes
(`TORGHUT_RUN_LAUNCHER=k8s`, which the Helm values set): on a laptop (`dagster dev`, the default
launcher) the long JSON tag would only flood the run list, so runs there carry their short `torghut/...`
tags alone. The setting is read when the jobs are defined, at code-location load.

Each run is one pod executing every step in process, so its size is the job's peak: a lane window
holds a window of minute bars, the walk-forward folds and the stress cases in pandas at once;
reconciliation adds the Great Expectations suites and a replay sample. Requests are what the
scheduler reserves, limits what the pod may burst to before it is throttled (CPU) or killed (memory).
Jobs without a tag take the Helm chart's `runK8sConfig` default (`deploy/helm/values.yaml`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from torghut_assets import config_registry

K8S_CONFIG_TAG = "dagster-k8s/config"
RUN_LAUNCHER_SETTING = "TORGHUT_RUN_LAUNCHER"


class RunLauncher(StrEnum):
    LOCAL = "local"  # `dagster dev` and any launcher that runs a process per run: no pod to size
    K8S = "k8s"  # the K8sRunLauncher: one pod per run, sized by the job's tag


def configured_run_launcher(env: Mapping[str, str] | None = None) -> RunLauncher:
    """The run launcher the deployment declares (a malformed value is reported by `config check` and
    read as the default)."""
    env = os.environ if env is None else env
    bad = config_registry.malformed(env)
    return RunLauncher(config_registry.in_effect(env, bad, RUN_LAUNCHER_SETTING))


@dataclass(frozen=True)
class PodSize:
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str

    def resources(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }

    def tag(self, launcher: RunLauncher | None = None) -> dict[str, object]:
        """The job tag under the K8s launcher (Dagster stores its value as JSON and the launcher merges it
        into the pod); no tag under any other launcher. `launcher` None: the configured one."""
        if (launcher or configured_run_launcher()) is not RunLauncher.K8S:
            return {}
        return {K8S_CONFIG_TAG: {"container_config": {"resources": self.resources()}}}


LANE_WINDOW_POD = PodSize(cpu_request="500m", memory_request="1Gi", cpu_limit="1", memory_limit="2Gi")
RECONCILIATION_POD = PodSize(cpu_request="500m", memory_request="1Gi", cpu_limit="1", memory_limit="3Gi")
GOVERNANCE_POD = PodSize(cpu_request="250m", memory_request="512Mi", cpu_limit="500m", memory_limit="1Gi")
REPORTS_POD = PodSize(cpu_request="250m", memory_request="768Mi", cpu_limit="1", memory_limit="1536Mi")
# Jobs without a tag (replay, route controls, continuity, promotion timeline): the chart's runK8sConfig.
DEFAULT_RUN_POD = PodSize(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
