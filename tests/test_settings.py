from pathlib import Path

import pytest

from webhook.settings import MAX_BODY_BYTES, Settings, env_name


def test_the_defaults_serve_the_quick_start_on_loopback_port_9443() -> None:
    settings = Settings()
    assert settings.model_dump() == {
        "host": "127.0.0.1",
        "port": 9443,
        "cert_dir": Path("certs"),
        "workers": 1,
        "log_format": "text",
        "log_level": "info",
        "max_body_bytes": MAX_BODY_BYTES,
        "read_timeout": 10.0,
        "keep_alive_timeout": 100,
        "graceful_timeout": 25,
        "reload_interval": 2.0,
        "max_connections": 1024,
    }
    assert (settings.cert_file, settings.key_file, settings.ca_file) == (
        Path("certs/tls.crt"),
        Path("certs/tls.key"),
        Path("certs/ca.crt"),
    )


def test_the_body_limit_is_two_apiserver_bodies_and_one_mebibyte_of_envelope() -> None:
    assert MAX_BODY_BYTES == 2 * 3 * 1024 * 1024 + 1024 * 1024


def test_every_setting_has_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "host": "0.0.0.0",
        "port": "8443",
        "cert_dir": "/etc/webhook/tls",
        "workers": "2",
        "log_format": "json",
        "log_level": "debug",
        "max_body_bytes": "2048",
        "read_timeout": "2.5",
        "keep_alive_timeout": "30",
        "graceful_timeout": "5",
        "reload_interval": "0.5",
        "max_connections": "10",
    }
    assert sorted(values) == sorted(Settings.model_fields)
    for name, value in values.items():
        monkeypatch.setenv(env_name(name), value)
    assert Settings().model_dump(mode="json") == {
        **values,
        "port": 8443,
        "workers": 2,
        "max_body_bytes": 2048,
        "read_timeout": 2.5,
        "keep_alive_timeout": 30,
        "graceful_timeout": 5,
        "reload_interval": 0.5,
        "max_connections": 10,
    }


def test_a_value_given_directly_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCEPOOL_WEBHOOK_PORT", "8443")
    assert Settings(port=9999).port == 9999


def test_every_setting_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []
