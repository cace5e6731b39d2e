"""Encryption at rest for secrets the server must read back (API secrets)."""

import base64

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet() -> Fernet:
    # Derived from SECRET_KEY so a default install needs no extra secret;
    # HKDF keeps the encryption key distinct from the signing key.
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"stratus-api-secrets"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
