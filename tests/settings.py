"""Unit-test settings: no Redis, no Docker; a throwaway data folder."""

import tempfile
from pathlib import Path

from console.settings import *  # noqa: F403

DATA_DIR = Path(tempfile.mkdtemp(prefix="stratus-unit-"))
STRATUS_CODE_DIR = DATA_DIR / "code"
STRATUS_ENV_DIR = DATA_DIR / "envs"
STRATUS_OBJECTS_DIR = DATA_DIR / "objects"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CELERY_BROKER_URL = "memory://"
# Nothing listens here: the engine's best-effort Redis calls fail at once
# (tests that need Redis use the redis_url fixture).
REDIS_URL = "redis://127.0.0.1:1/0"
CELERY_RESULT_BACKEND = "cache+memory://"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No background thread reading the test database (functions.provisioned_lookup).
STRATUS_PRELOAD_PROVISIONED = False
