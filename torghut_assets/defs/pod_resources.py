"""Kubernetes pod sizes of the runs the K8sRunLauncher starts, as `dagster-k8s/config` job tags.

Each run is one pod executing every step in process, so its size is the job's peak: a lane window
holds a window of minute bars, the walk-forward folds and the stress cases in pandas at once;
reconciliation adds the Great Expectations suites and a replay sample. Requests are what the
scheduler reserves, limits what the pod may burst to before it is throttled (CPU) or killed (memory).
Other launchers ignore the tag; jobs without one take the Helm chart's `runK8sConfig` default
(`deploy/helm/values.yaml`).
"""

from __future__ import annotations

from dataclasses import dataclass

K8S_CONFIG_TAG = "dagster-k8s/config"


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

    def tag(self) -> dict[str, object]:
        """The job tag; Dagster stores its value as JSON and the launcher merges it into the pod."""
        return {K8S_CONFIG_TAG: {"container_config": {"resources": self.resources()}}}


LANE_WINDOW_POD = PodSize(cpu_request="500m", memory_request="1Gi", cpu_limit="1", memory_limit="2Gi")
RECONCILIATION_POD = PodSize(cpu_request="500m", memory_request="1Gi", cpu_limit="1", memory_limit="3Gi")
GOVERNANCE_POD = PodSize(cpu_request="250m", memory_request="512Mi", cpu_limit="500m", memory_limit="1Gi")
REPORTS_POD = PodSize(cpu_request="250m", memory_request="768Mi", cpu_limit="1", memory_limit="1536Mi")
# Jobs without a tag (replay, route controls, continuity, promotion timeline): the chart's runK8sConfig.
DEFAULT_RUN_POD = PodSize(cpu_request="250m", memory_request="512Mi", cpu_limit="1", memory_limit="1Gi")
