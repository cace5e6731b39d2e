"""Settings from the environment, failing loudly on a bad value: one line
on stderr saying which setting, what it got and what it takes, and exit
status 1 (ImproperSetting)."""

import os
from decimal import Decimal, InvalidOperation


class ImproperSetting(SystemExit):
    """A setting with a bad value. A SystemExit, so a process that reads
    its settings (manage.py, uvicorn, every Celery worker and beat, a
    `django.setup()`) stops with this one line on stderr and status 1,
    without a traceback, wherever the settings are first read; and no
    `except Exception` on the way can swallow it."""


def envstr(name: str, default: str = "") -> str:
    """Read NAME, or the file named by NAME_FILE (for secrets), or default."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError as exc:
            raise ImproperSetting(
                f"{name}_FILE names {path!r}, which cannot be read: {exc.strerror or exc}"
            ) from None
    return os.environ.get(name, default)


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperSetting(f"{name} must be a whole number, got {raw!r}") from None


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperSetting(f"{name} must be a number, got {raw!r}") from None


def envdecimal(name: str, default: str) -> Decimal:
    """A non-negative exact decimal (prices), never a float."""
    raw = os.environ.get(name) or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperSetting(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperSetting(f"{name} must be a number of 0 or more, got {raw!r}")
    return value


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperSetting(f"{name} must be true or false, got {raw!r}")
