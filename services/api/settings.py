"""The API's configuration: the ``api:`` settings, resolved once for the app factory.

Tokens come from the config file (``tokens: [{name, token: "${ENV}", scopes}]``) and are
compared in constant time (``auth.py``); they are never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.projections.settings import read_model_path
from services.runtime.settings import ApiScope as Scope
from services.runtime.settings import ApiSettings, ApiToken, Settings

__all__ = ["ApiConfig", "ApiToken", "Scope"]


class ApiConfig(ApiSettings):
    """The ``api:`` settings (see ``ApiSettings`` for every field), with the read-model path
    resolved and what the app derives from them."""

    @property
    def backtests_path(self) -> Path:
        return self.backtests_db or self.read_model.with_name("backtests.db")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ApiConfig:
        values: dict[str, Any] = dict(settings.api)
        values["read_model"] = read_model_path(settings)
        values.update(overrides)
        return cls.model_validate(values)
