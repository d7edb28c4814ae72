"""The dashboard's token when the config names none.

Why: without ``api.tokens`` the API refuses every request but its health checks, so the
dashboard that ``tocsin run`` announces would show a new user only its sign-in page, asking
for a token nobody gave them. The API then makes one token with every scope and keeps it in
``api-token`` beside the read model: created readable by its owner only, kept across
restarts (a signed-in browser stays signed in), never printed or logged (the console names
the file). Whoever can read that file can read the data folder, and so the log itself: the
token gives nobody access they did not have. Configured tokens replace it; the file is then
not read.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from services.api.settings import ApiConfig, ApiToken

__all__ = ["LOCAL_TOKEN_NAME", "token_file", "with_local_token"]

log = logging.getLogger(__name__)

#: Who acts, in the lifecycle events appended with this token (an ack: "by local").
LOCAL_TOKEN_NAME = "local"  # noqa: S105 (a name, not a secret)
_MIN_LENGTH = 32


def token_file(config: ApiConfig) -> Path:
    return config.read_model.with_name("api-token")


def with_local_token(config: ApiConfig) -> tuple[ApiConfig, Path | None]:
    """The config with the local token added when it has none, and the token's file
    (``None`` when the config names its own tokens)."""
    if config.tokens:
        return config, None
    path = token_file(config)
    try:
        secret = _read_or_make(path)
    except OSError as exc:  # the API serves on, as with no token: health checks only
        log.warning(
            "no token for the dashboard: cannot keep one in %s (%s); set api.tokens",
            path,
            exc.strerror or exc,
        )
        return config, None
    token = ApiToken(name=LOCAL_TOKEN_NAME, token=SecretStr(secret), scopes=("read", "write"))
    return config.model_copy(update={"tokens": (token,)}), path


def _read_or_make(path: Path) -> str:
    kept = _read(path)
    if kept:
        return kept
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secrets.token_urlsafe(_MIN_LENGTH) + "\n")
    os.replace(partial, path)  # whole or absent to a reader; a short or empty file replaced
    return _read(path)  # the file's, should another process have written it meanwhile


def _read(path: Path) -> str:
    """The kept token, or "" when there is none (or it is too short to be one of ours)."""
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    return kept if len(kept) >= _MIN_LENGTH else ""
