"""Prometheus metrics: request counts and latencies by route template, served at /metrics."""

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.types import Scope

router = APIRouter(tags=["operations"])
# Series remembered for the lookup; a client's made-up methods must not grow it without end.
MAX_SERIES = 2_000


class HttpMetrics:
    """One registry per app, so several apps in one process (tests, workers) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tracer_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tracer_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            registry=self.registry,
        )

        # Each labelled series looked up once, not twice a request.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """Count one answered request (see app.observing)."""
        # The template, not the path, so ids do not explode the label space.
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        series = self._series.get((method, route, status))
        if series is None:
            series = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            if len(self._series) < MAX_SERIES:
                self._series[method, route, status] = series
        count, latency = series
        count.inc()
        latency.observe(seconds)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
