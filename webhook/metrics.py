"""Prometheus metrics: what the webhook decided, how fast, and the state of its certificate.

Each app has its own registry, so that tests and benchmarks can build several
in one process. Label values are a closed set known at start-up, and the
labelled children are bound then, so recording a review costs a dictionary
lookup and no label handling.
"""

from collections.abc import Iterator
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from webhook.admission import Operation
from webhook.review import Endpoint
from webhook.tls import CertificateStore

Outcome = Literal["allowed", "patched", "denied", "errored"]

ENDPOINTS: tuple[Endpoint, ...] = ("mutate", "validate")
OPERATIONS: tuple[Operation, ...] = ("CREATE", "UPDATE", "DELETE", "CONNECT")
OUTCOMES: tuple[Outcome, ...] = ("allowed", "patched", "denied", "errored")

# The HTTP errors the server answers itself, before a review is decided.
REJECTION_CODES = (400, 404, 405, 408, 413, 415, 500)

# Reviews take well under a millisecond to decide, a large one a few; the
# buckets reach kube-apiserver's default 10 s webhook timeout.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0)

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "inferencepool_webhook"


class Metrics:
    """The metrics of one running app; ``render()`` is what /metrics serves."""

    def __init__(self, certificates: CertificateStore | None = None) -> None:
        # The ``_created`` series double every counter and nobody graphs them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if certificates is not None:
            self.registry.register(_CertificateCollector(certificates))

        reviews = Counter(
            f"{PREFIX}_reviews",
            "Admission reviews answered, by endpoint, operation and outcome.",
            ["endpoint", "operation", "outcome"],
            registry=self.registry,
        )
        duration = Histogram(
            f"{PREFIX}_review_duration_seconds",
            "Time from a complete request body to the encoded response.",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        rejected = Counter(
            f"{PREFIX}_rejected_requests",
            "Requests answered with an HTTP error instead of a review, by status code.",
            ["code"],
            registry=self.registry,
        )
        # A plain counter, read at scrape time: the event loop is the only
        # writer, so it needs none of a Gauge's locking on every review.
        self.in_flight = 0
        self.registry.register(_InFlightCollector(self))
        self.unexpected_errors = Counter(
            f"{PREFIX}_unexpected_errors",
            "Reviews denied with code 500 because deciding them failed unexpectedly.",
            registry=self.registry,
        )

        self._reviews = {
            (endpoint, operation, outcome): reviews.labels(endpoint, operation, outcome)
            for endpoint in ENDPOINTS
            for operation in OPERATIONS
            for outcome in OUTCOMES
        }
        self._duration = {endpoint: duration.labels(endpoint) for endpoint in ENDPOINTS}
        self._rejected_counter = rejected
        self._rejected = {code: rejected.labels(str(code)) for code in REJECTION_CODES}

    def review(
        self, endpoint: Endpoint, operation: Operation, outcome: Outcome, seconds: float
    ) -> None:
        """Count one answered review and its duration."""
        self._reviews[endpoint, operation, outcome].inc()
        self._duration[endpoint].observe(seconds)

    def rejected(self, code: int) -> None:
        """Count one request answered with an HTTP error."""
        child = self._rejected.get(code)
        if child is None:
            child = self._rejected.setdefault(code, self._rejected_counter.labels(str(code)))
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _InFlightCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            f"{PREFIX}_reviews_in_flight",
            "Reviews being received or decided right now.",
            value=self._metrics.in_flight,
        )


class _CertificateCollector(Collector):
    # Read at scrape time from the store, which owns these facts.
    def __init__(self, certificates: CertificateStore) -> None:
        self._certificates = certificates

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        store = self._certificates
        yield CounterMetricFamily(
            f"{PREFIX}_certificate_reloads",
            "Rotated certificate pairs taken into service.",
            value=store.reloads,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_certificate_reload_failures",
            "Changed certificate pairs that could not be served (the previous pair stayed).",
            value=store.reload_failures,
        )
        expiry = GaugeMetricFamily(
            f"{PREFIX}_certificate_expiry_timestamp_seconds",
            "Unix time at which the serving certificate expires.",
        )
        # Registration collects once before start-up has loaded a pair.
        if store.loaded:
            expiry.add_metric([], store.current.not_after.timestamp())
        yield expiry
