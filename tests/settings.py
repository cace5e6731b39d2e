"""Unit-test settings: no Redis, no Docker; a throwaway data folder."""

import tempfile
from pathlib import Path

from console.settings import *  # noqa: F403

DATA_DIR = Path(tempfile.mkdtemp(prefix="stratus-unit-"))
STRATUS_CODE_DIR = DATA_DIR / "code"
STRATUS_ENV_DIR = DATA_DIR / "envs"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
