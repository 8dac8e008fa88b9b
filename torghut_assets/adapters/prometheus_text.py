"""Prometheus text exposition of the operator metrics: a textfile for node-exporter, or a scrape endpoint.

`prometheus_client` does the format (HELP/TYPE lines, label escaping, number spelling) and the atomic
textfile write (temporary file in the same folder, then rename), which are easy to get subtly wrong
by hand; nothing here keeps in-process counters, every exposition is computed from the samples given.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from torghut_assets.domain.route_metrics import COUNTER, FAMILIES, Sample

TEXTFILE_NAME = "torghut.prom"


class SampleCollector(Collector):
    """Calls `compute` on every collection, so each scrape reads the ledger afresh."""

    def __init__(self, compute: Callable[[], Sequence[Sample]]) -> None:
        self._compute = compute

    def collect(self) -> Iterator[Metric]:
        samples = self._compute()
        for family, (kind, help_text, label_names) in FAMILIES.items():
            metric_type = CounterMetricFamily if kind == COUNTER else GaugeMetricFamily
            metric = metric_type(family, help_text, labels=label_names)
            for sample in samples:
                if sample.family == family:
                    metric.add_metric([value for _, value in sample.labels], sample.value)
            yield metric


def registry_of(compute: Callable[[], Sequence[Sample]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SampleCollector(compute))
    return registry


def render(samples: Sequence[Sample]) -> str:
    return generate_latest(registry_of(lambda: samples)).decode("utf-8")


def write_textfile(samples: Sequence[Sample], directory: Path) -> Path:
    """Replace `directory/torghut.prom` atomically: node-exporter never reads a half-written file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / TEXTFILE_NAME
    write_to_textfile(os.fspath(path), registry_of(lambda: samples))
    return path


def serve(
    compute: Callable[[], Sequence[Sample]], *, host: str, port: int
) -> tuple[WSGIServer, threading.Thread]:
    """Serve `/metrics` from a daemon thread (port 0 picks a free port: `server.server_port`)."""
    return start_http_server(port, addr=host, registry=registry_of(compute))
