from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import (
    APISERVER_HEADERS,
    FIXTURES,
    SAMPLES,
    RunningServer,
    post_review,
    running_server,
)
from webhook.metrics import ENDPOINTS, OPERATIONS, OUTCOMES, REJECTION_CODES
from webhook.review import decide, parse_review

SENT = [
    (FIXTURES / "create-apply.mutate.json", "mutate"),
    (FIXTURES / "create-apply.mutate.json", "mutate"),
    (FIXTURES / "create-apply.validate.json", "validate"),
    (FIXTURES / "delete.validate.json", "validate"),
    (FIXTURES / "update-status-patch.mutate.json", "mutate"),
    (SAMPLES / "create-invalid.json", "validate"),
]


def outcome_of(body: bytes, endpoint: str) -> tuple[str, str, str]:
    review = parse_review(body)
    decision = decide(review, endpoint)  # type: ignore[arg-type]
    outcome = ("patched" if decision.patch else "allowed") if decision.allowed else "denied"
    return endpoint, review.request.operation, outcome


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    assert found, f"{name} not in /metrics:\n{text}"
    return found


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    with running_server(tmp_path_factory.mktemp("metrics")) as server, server.client() as client:
        for path, endpoint in SENT:
            assert post_review(client, endpoint, path.read_bytes()).status_code == 200
        assert post_review(client, "mutate", b"").status_code == 400
        assert client.get("/mutate").status_code == 405
        headers = {**APISERVER_HEADERS, "Content-Type": "text/plain"}
        assert post_review(client, "validate", b"{}", headers).status_code == 415
        response = client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=")
        yield server, response.text


def test_reviews_are_counted_by_endpoint_operation_and_outcome(
    scraped: tuple[RunningServer, str],
) -> None:
    expected: dict[tuple[tuple[str, str], ...], float] = {
        (("endpoint", e), ("operation", o), ("outcome", r)): 0.0
        for e in ENDPOINTS
        for o in OPERATIONS
        for r in OUTCOMES
    }
    for path, endpoint in SENT:
        e, o, r = outcome_of(path.read_bytes(), endpoint)
        expected[("endpoint", e), ("operation", o), ("outcome", r)] += 1
    assert samples(scraped[1], "inferencepool_webhook_reviews_total") == expected
    # The table above is not all allows: the scrape proves each outcome is told apart.
    assert {key[2][1] for key, value in expected.items() if value} == {
        "allowed",
        "patched",
        "denied",
    }


def test_the_latency_histogram_counts_each_review_once_per_endpoint(
    scraped: tuple[RunningServer, str],
) -> None:
    counts = samples(scraped[1], "inferencepool_webhook_review_duration_seconds_count")
    assert counts == {(("endpoint", "mutate"),): 3.0, (("endpoint", "validate"),): 3.0}
    buckets = samples(scraped[1], "inferencepool_webhook_review_duration_seconds_bucket")
    assert buckets[("endpoint", "mutate"), ("le", "+Inf")] == 3.0
    assert buckets[("endpoint", "validate"), ("le", "10.0")] == 3.0


def test_http_errors_are_counted_by_status_code(scraped: tuple[RunningServer, str]) -> None:
    expected = {(("code", str(code)),): 0.0 for code in REJECTION_CODES}
    expected.update({(("code", "400"),): 1.0, (("code", "405"),): 1.0, (("code", "415"),): 1.0})
    assert samples(scraped[1], "inferencepool_webhook_rejected_requests_total") == expected


def test_nothing_is_in_flight_and_nothing_failed_unexpectedly_after_the_requests(
    scraped: tuple[RunningServer, str],
) -> None:
    text = scraped[1]
    assert [
        samples(text, "inferencepool_webhook_reviews_in_flight"),
        samples(text, "inferencepool_webhook_unexpected_errors_total"),
        samples(text, "inferencepool_webhook_certificate_reloads_total"),
        samples(text, "inferencepool_webhook_certificate_reload_failures_total"),
    ] == [{(): 0.0}] * 4


def test_the_certificate_expiry_is_the_served_certificates_not_after(
    scraped: tuple[RunningServer, str],
) -> None:
    server, text = scraped
    cert = x509.load_pem_x509_certificate((server.cert_dir / "tls.crt").read_bytes())
    assert samples(text, "inferencepool_webhook_certificate_expiry_timestamp_seconds") == {
        (): cert.not_valid_after_utc.timestamp()
    }


def test_the_process_reports_its_resident_memory(scraped: tuple[RunningServer, str]) -> None:
    server, text = scraped
    [rss] = samples(text, "process_resident_memory_bytes").values()
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    [kib] = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")]
    assert 10 * 2**20 < rss < 200 * 2**20
    assert abs(rss - kib * 1024) < 16 * 2**20


def test_metrics_scrapes_do_not_count_as_reviews(scraped: tuple[RunningServer, str]) -> None:
    server, first = scraped
    with server.client() as client:
        again = client.get("/metrics").text
    assert samples(again, "inferencepool_webhook_reviews_total") == samples(
        first, "inferencepool_webhook_reviews_total"
    )
