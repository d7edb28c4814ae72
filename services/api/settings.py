"""The API's configuration: the ``api:`` settings, resolved once for the app factory.

Tokens come from the config file (``tokens: [{name, token: "${ENV}", scopes}]``) and are
compared in constant time (``auth.py``); they are never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.projections.settings import DEFAULT_GROUP, read_model_path
from services.runtime.settings import ApiScope as Scope
from services.runtime.settings import ApiToken, Settings

__all__ = ["ApiConfig", "ApiToken", "Scope"]


class ApiConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    read_model: Path = Path("./data/read.db")
    public_read: bool = False
    allow_private_urls: bool = False
    tokens: tuple[ApiToken, ...] = ()
    projections_group: str = DEFAULT_GROUP
    #: how long an SSE client may stay silent before a keep-alive comment
    sse_ping_s: float = Field(default=15.0, gt=0)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ApiConfig:
        values: dict[str, Any] = dict(settings.api)
        values["read_model"] = read_model_path(settings)
        values.update(overrides)
        return cls.model_validate(values)
