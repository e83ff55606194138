from __future__ import annotations

from pathlib import Path

import pytest

from qa.backends.backend import open_backend
from qa.errors import ConfigError
from qa.settings import Settings, redact_url


def test_no_key_and_no_server_means_the_embedded_model() -> None:
    assert Settings.load(env={}).resolved_backend() == "embedded"


def test_a_key_means_openai_and_a_base_url_means_a_server() -> None:
    assert Settings.load(env={"OPENAI_API_KEY": "sk-x"}).resolved_backend() == "openai"
    assert Settings.load(env={"OPENAI_BASE_URL": "http://localhost:11434/v1"}).resolved_backend() == "server"


def test_explicit_backend_wins_over_the_environment() -> None:
    settings = Settings.load(env={"OPENAI_API_KEY": "sk-x"}, backend="embedded")
    assert settings.resolved_backend() == "embedded"


def test_environment_values_are_parsed_and_validated() -> None:
    settings = Settings.load(env={"QA_TIMEOUT": "7.5", "QA_RECORD_MODE": "replay", "QA_RECORDINGS": "x/y"})
    assert settings.timeout == 7.5 and settings.record_mode == "replay" and settings.recordings == Path("x/y")
    with pytest.raises(ConfigError, match="QA_TIMEOUT / timeout"):
        Settings.load(env={"QA_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="backend"):
        Settings.load(env={}, backend="telepathy")


def test_the_key_never_appears_in_repr_or_description() -> None:
    settings = Settings.load(env={"OPENAI_API_KEY": "sk-secret-value-1234567890"})
    assert "sk-secret" not in repr(settings) and "sk-secret" not in settings.describe()
    assert "sk-secret" not in settings.model_dump_json()


def test_backends_are_shared_per_settings() -> None:
    one = open_backend(Settings.load(env={}, backend="embedded"))
    assert open_backend(Settings.load(env={}, backend="embedded")) is one
    assert one.model == "qwen2.5-coder-1.5b-instruct-q4_k_m" and one.constrain_quotes  # the registry's default
    openai = open_backend(Settings.load(env={"OPENAI_API_KEY": "sk-x"}))
    assert openai.model == "gpt-4o-mini" and not openai.constrain_quotes and not openai.schema_in_prompt


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://user:pass@host:8000/v1", "http://***@host:8000/v1"),
        ("https://host/v1?api_key=abc&region=eu", "https://host/v1?api_key=***&region=eu"),
        ("https://host/v1?access_token=abc&sig=x&Password=y", "https://host/v1?access_token=***&sig=***&Password=***"),
        ("http://[::1/v1", "***"),  # not a URL at all: hidden whole
    ],
)
def test_redact_url_hides_userinfo_and_secret_query_values(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_base_url_credentials_never_appear_in_repr() -> None:
    settings = Settings.load(env={"OPENAI_BASE_URL": "http://me:hunter2@host/v1?token=abc"})
    assert "hunter2" not in repr(settings) and "abc" not in repr(settings)
    assert settings.shown_base_url() == "http://***@host/v1?token=***"


def test_short_answers_are_read_from_the_environment_and_checked() -> None:
    assert Settings.load(env={}).short_answers == "on"
    assert Settings.load(env={"QA_SHORT_ANSWERS": "constrained"}).short_answers == "constrained"
    with pytest.raises(ConfigError, match="QA_SHORT_ANSWERS"):
        Settings.load(env={"QA_SHORT_ANSWERS": "sometimes"})
