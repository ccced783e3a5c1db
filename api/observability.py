"""Prometheus metrics and one structured (JSON) log line per request."""

from __future__ import annotations

import json
import logging
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from losswatch.monitor.models import DecisionRow, MetricSummary, Run

log = logging.getLogger("losswatch.access")


class Metrics:
    """Per-process counters (labelled with the worker's pid, as several uvicorn workers each count
    their own) and database-derived totals that every worker reports identically."""

    def __init__(self, engine_getter) -> None:  # type: ignore[no-untyped-def]
        self.registry = CollectorRegistry()
        pid = str(os.getpid())
        self.requests = Counter(
            "losswatch_http_requests",
            "HTTP requests served",
            ["method", "route", "status", "worker"],
            registry=self.registry,
        )
        self.latency = Histogram("losswatch_http_request_seconds", "request latency", ["route"], registry=self.registry)
        self.points = Counter(
            "losswatch_points_ingested", "points accepted by this worker", ["worker"], registry=self.registry
        )
        self.pid = pid
        self.registry.register(_StoreCollector(engine_getter))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status), self.pid).inc()
        self.latency.labels(route).observe(seconds)


class _StoreCollector:
    def __init__(self, engine_getter) -> None:  # type: ignore[no-untyped-def]
        self.engine_getter = engine_getter

    def collect(self):  # type: ignore[no-untyped-def]
        engine: Engine | None = self.engine_getter()
        if engine is None:
            return
        runs = GaugeMetricFamily("losswatch_runs", "runs by status", labels=["status"])
        points = GaugeMetricFamily("losswatch_points_stored", "points stored, all runs")
        decisions = GaugeMetricFamily("losswatch_decisions", "recorded decisions by reason", labels=["reason"])
        with engine.connect() as conn:
            for status, n in conn.execute(select(Run.status, func.count()).group_by(Run.status)):
                runs.add_metric([status], n)
            points.add_metric([], conn.scalar(select(func.coalesce(func.sum(MetricSummary.count), 0))) or 0)
            for reason, n in conn.execute(select(DecisionRow.reason, func.count()).group_by(DecisionRow.reason)):
                decisions.add_metric([reason], n)
        yield runs
        yield points
        yield decisions


class AccessLog:
    """ASGI middleware: count, time and log every request as one JSON line."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            # Included routers keep their prefix apart from the route's own path in this FastAPI.
            if route is not None and scope["path"].startswith("/api/v1/") and not template.startswith("/api/v1"):
                template = "/api/v1" + template
            self.metrics.observe(scope["method"], template, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": template,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "run_id": (scope.get("path_params") or {}).get("run_id"),
                        }
                    )
                )
