"""Prometheus metrics with prometheus-client: requests, tasks, models, build info.

Each app has a registry of its own, so tests can build several apps. With several worker
processes (FPX_WORKERS > 1) `python -m server` sets PROMETHEUS_MULTIPROC_DIR before uvicorn
starts them: each worker writes its samples there, and a scrape answered by any worker adds up
all of them (prometheus-client's multiprocess mode). Task counts are read from the store at
scrape time, so they are the same whichever worker answers. Requests are counted by
server/middleware.py, which calls `observe_request`. No FastAPI imports here.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from server import __version__

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metrics of one app. `observe_*` are called where things happen; `scrape` renders
    everything, with the task counts it is given, in Prometheus' text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._predicts: dict[str, Any] = {}
        r = self.registry
        self.requests = Counter(
            "fpx_http_requests", "HTTP requests answered, by route template, method and status",
            ["method", "route", "status"], registry=r,
        )
        self.latency = Histogram(
            "fpx_http_request_duration_seconds", "Time to answer a request, by route",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.predict_latency = Histogram(
            "fpx_model_predict_duration_seconds", "Time a model takes to predict, by model",
            ["model"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.model_load = Gauge(
            "fpx_model_load_seconds", "How long each model took to load at start-up",
            ["model"], multiprocess_mode="max", registry=r,
        )
        self.job_duration = Histogram(
            "fpx_job_duration_seconds", "Time a job ran, from its start to its end, by outcome",
            ["job", "status"], registry=r,
        )
        self.tasks_pruned = Counter(
            "fpx_tasks_pruned", "Finished tasks removed once older than FPX_TASK_RETENTION",
            registry=r,
        )
        Gauge(
            "fpx_build_info", "fpx's version and what it runs on (always 1)",
            ["version", "python", "fastapi"], multiprocess_mode="max", registry=r,
        ).labels(__version__, platform.python_version(), _fastapi_version()).set(1)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled series of each (method, route, status) are kept, as prometheus-client's
        # docs advise for a hot path: labels() takes a lock and looks the series up each time.
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(method, route, str(status)), self.latency.labels(method, route)
            )
        series[0].inc()
        series[1].observe(seconds)

    def observe_predict(self, model: str, seconds: float) -> None:
        series = self._predicts.get(model)
        if series is None:
            series = self._predicts[model] = self.predict_latency.labels(model)
        series.observe(seconds)

    def scrape(self, task_counts: Iterable[tuple[dict[str, str], int]]) -> bytes:
        """Everything, in the text format; `task_counts` are (labels, count) pairs."""
        return generate_latest(_Scrape(self._collectors(), list(task_counts)))

    def _collectors(self) -> CollectorRegistry:
        if multiprocess_dir() is None:
            return self.registry
        from prometheus_client import multiprocess

        every_worker = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_worker)
        return every_worker


class _Scrape:
    """One scrape: the app's metrics (every worker's, in multiprocess mode) and the task
    counts read for it."""

    def __init__(self, metrics: CollectorRegistry, task_counts: list) -> None:
        self.metrics = metrics
        self.task_counts = task_counts

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics.collect()
        tasks = GaugeMetricFamily(
            "fpx_tasks", "Tasks in the store, by status and job", labels=["status", "job"]
        )
        queued = 0
        for labels, count in self.task_counts:
            tasks.add_metric([labels["status"], labels["job"]], count)
            if labels["status"] == "pending":
                queued += count
        yield tasks
        yield GaugeMetricFamily("fpx_tasks_queued", "Tasks waiting for a worker", value=queued)


def _fastapi_version() -> str:
    from importlib.metadata import version

    return version("fastapi")
