"""Settings: defaults with no file, file < environment < flags, clear errors naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.settings import DEFAULT_LOG, ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./tocsin.yaml
    for name in ("TOCSIN_CONFIG", "TOCSIN_LOG", "TOCSIN_TOPIC_PREFIX", "TOCSIN_KAFKA__IDEMPOTENT"):
        monkeypatch.delenv(name, raising=False)


def test_no_file_means_the_embedded_defaults() -> None:
    settings = load_settings()
    assert settings.log == DEFAULT_LOG == "sqlite:///./data/tocsin.db"
    assert settings.rules == ["default"]
    assert settings.log_options() == {}


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        "log: kafka://k1:9092\ntopic_prefix: file.\nkafka: {linger_ms: 7, client_id: from-file}\n"
        "sources:\n  - {id: warsaw-institute, kind: feed, url: https://warsawinstitute.org/feed/}\n",
        encoding="utf-8",
    )
    assert load_settings().topic_prefix == "file.", "./tocsin.yaml is read when present"
    monkeypatch.setenv("TOCSIN_TOPIC_PREFIX", "env.")
    monkeypatch.setenv("TOCSIN_KAFKA__LINGER_MS", "9")
    settings = load_settings(config, log="kafka://flag:9092")
    assert settings.log == "kafka://flag:9092"
    assert settings.topic_prefix == "env."
    assert (settings.kafka.linger_ms, settings.kafka.client_id) == (9, "from-file"), (
        "nested values merge"
    )
    assert settings.sources[0]["id"] == "warsaw-institute"
    assert settings.log_options()["linger_ms"] == 9


def test_environment_variables_expand_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "kafka:\n  sasl_plain_password: ${KAFKA_PASSWORD}\n  client_id: ${CLIENT:-tocsin-eu}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("KAFKA_PASSWORD", "s3cret")
    settings = load_settings(config, log="kafka://k:9092")
    assert settings.kafka.client_id == "tocsin-eu"
    assert "s3cret" not in repr(settings), "secrets stay out of reprs and logs"
    assert settings.log_options()["sasl_plain_password"] == "s3cret"
    monkeypatch.delenv("KAFKA_PASSWORD")
    with pytest.raises(
        ConfigError, match=r"c\.yaml:2: environment variable KAFKA_PASSWORD is not set"
    ):
        load_settings(config)


def test_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("log: x\nbogus: 1\nkafka: {linger_ms: -1}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    message = str(info.value)
    assert "bad.yaml" in message
    assert "kafka.linger_ms: Input should be greater than or equal to 0" in message
    assert "bogus: Extra inputs are not permitted" in message


def test_broken_yaml_and_wrong_shapes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("log: sqlite:///x\nsources: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_settings(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- log\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(listing)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.yaml")


def test_sections_of_one_service_expand_when_that_service_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A variable named in a subscription is needed by the services that read subscriptions,
    not by the poller: the file loads without it, and reading the section names it."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "log: sqlite:///${DATA:-/var/tocsin}/tocsin.db\n"
        "sources:\n"
        "  - {id: a, url: 'https://${FEED_HOST:-news.example}/feed'}\n"
        "subscriptions:\n"
        "  - id: desk\n"
        "    channel: {kind: webhook, url: 'https://hooks.example/x', secret: '${HOOK_SECRET}'}\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    settings = load_settings(config)
    assert settings.log == "sqlite:////var/tocsin/tocsin.db"  # read by all: expanded at load
    assert settings.section("sources")[0]["url"] == "https://news.example/feed"
    with pytest.raises(
        ConfigError,
        match=r"c\.yaml:6: environment variable HOOK_SECRET is not set \(needed by subscriptions\)",
    ):
        settings.section("subscriptions")
    monkeypatch.setenv("HOOK_SECRET", "s3cret-for-the-desk")
    assert settings.section("subscriptions")[0]["channel"]["secret"] == "s3cret-for-the-desk"
    assert "s3cret" not in repr(settings)
    with pytest.raises(ValueError, match="expanded at load"):
        settings.section("kafka")


def test_a_variable_holds_a_value_not_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Expansion happens in the parsed values: a variable's text cannot change the file's
    structure (a colon or a bracket in it stays text)."""
    config = tmp_path / "c.yaml"
    config.write_text("kafka:\n  client_id: ${CLIENT}\n", encoding="utf-8")
    monkeypatch.setenv("CLIENT", "desk: [eu]")
    assert load_settings(config).kafka.client_id == "desk: [eu]"


def test_the_kafka_assignor_reaches_the_log_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("log: kafka://k1:9092\n", encoding="utf-8")
    assert load_settings(config).log_options()["assignor"] == "cooperative-sticky"
    monkeypatch.setenv("TOCSIN_KAFKA__ASSIGNOR", "range")
    assert load_settings(config).log_options()["assignor"] == "range"
    monkeypatch.delenv("TOCSIN_KAFKA__ASSIGNOR")
    config.write_text("log: kafka://k1:9092\nkafka: {assignor: sticky}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kafka\.assignor"):
        load_settings(config)
