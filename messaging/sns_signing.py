"""Signing messages as SNS signs them, and the links every message carries.

SNS signs each message it delivers (to HTTP/S endpoints, to SQS queues
without raw delivery, to Lambda in `Records[].Sns`) so the receiver can
check it came from SNS: the signature is over a canonical string of the
message's fields, with an RSA key whose X.509 certificate is served at
`SigningCertURL`. Rules from AWS's "Verifying the signatures of Amazon SNS
messages" and the HTTP/S message formats:

- canonical string: `name\\nvalue\\n` for each field in this order, fields
  that are absent left out:
  - Notification: Message, MessageId, Subject (only if present),
    Timestamp, TopicArn, Type;
  - SubscriptionConfirmation / UnsubscribeConfirmation: Message,
    MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type.
- SignatureVersion "1": SHA1withRSA; "2": SHA256withRSA (the topic's
  `SignatureVersion` attribute); both RSASSA-PKCS1-v1_5, base64.

The platform's key (RSA 2048) and self-signed certificate are made once,
by whichever process needs them first, in `<STRATUS_DATA_DIR>/sns/signing.pem`
(mode 0600), and reused after every restart. Every process that signs
(web, workers) must see the same file: on several hosts, share or copy it.

The links (`SigningCertURL`, `SubscribeURL`, `UnsubscribeURL`) point at this
platform's own port, served by messaging.sns_http: the base is
STRATUS_PUBLIC_URL when set, else the address the subscription was made
through (`Subscription.base_url`), else http://127.0.0.1:<PORT or 8000>."""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

SIGNATURE_VERSIONS = ("1", "2")
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
# The certificate outlives any message: ten years, as a local CA would.
CERT_DAYS = 3650


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    cert_pem: bytes

    @property
    def cert_name(self) -> str:
        """`SimpleNotificationService-<32 hex>.pem`, as SNS names its
        certificates: the hex is the certificate's SHA-256, shortened, so a
        new key gets a new URL."""
        return f"SimpleNotificationService-{hashlib.sha256(self.cert_pem).hexdigest()[:32]}.pem"


_lock = threading.Lock()
_cached: dict[Path, SigningKey] = {}


def key_path() -> Path:
    return Path(settings.DATA_DIR) / "sns" / "signing.pem"


def signing_key() -> SigningKey:
    """The platform's key and certificate, made on first use. Two processes
    making it at once both write a temporary file and `link` it into place:
    the second link fails and that process reads the winner's file, so every
    process signs with the same key."""
    path = key_path()
    with _lock:
        found = _cached.get(path)
        if found is None:
            found = _cached[path] = _load_or_make(path)
        return found


def _load_or_make(path: Path) -> SigningKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".signing-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_new_key_and_cert())
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # Another process made it first: use theirs.
        finally:
            os.unlink(tmp)
    data = path.read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    begin = data.index(b"-----BEGIN CERTIFICATE-----")
    return SigningKey(key=key, cert_pem=data[begin:])


def _new_key_and_cert() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stratus"),
        x509.NameAttribute(NameOID.COMMON_NAME, "sns.stratus.local"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def iso_ms(when) -> str:
    """SNS's timestamp form: 2019-08-20T18:47:13.322Z (UTC, milliseconds)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def canonical_string(message: dict) -> bytes:
    """The text SNS signs for `message` (a dict of its JSON fields)."""
    kind = message["Type"]
    names = NOTIFICATION_FIELDS if kind == "Notification" else CONFIRMATION_FIELDS
    parts = []
    for name in names:
        value = message.get(name)
        if value is None:
            continue
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def sign(message: dict, version: str = "1") -> str:
    """The base64 `Signature` of `message` with SignatureVersion `version`."""
    if version not in SIGNATURE_VERSIONS:
        raise ValueError(f"SignatureVersion must be 1 or 2, not {version!r}")
    raw = signing_key().key.sign(canonical_string(message), padding.PKCS1v15(), _HASHES[version]())
    return base64.b64encode(raw).decode()


def verify(message: dict, cert_pem: bytes) -> bool:
    """Whether `message`'s Signature is good under `cert_pem` (what a
    receiver does; used by the tests and the console)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    version = message.get("SignatureVersion")
    if version not in SIGNATURE_VERSIONS:
        return False
    try:
        cert.public_key().verify(
            base64.b64decode(message["Signature"]), canonical_string(message), padding.PKCS1v15(),
            _HASHES[version](),
        )
    except Exception:  # noqa: BLE001 - any failure means "not signed by this key"
        return False
    return True


# Links ----------------------------------------------------------------------------------


def base_url(recorded: str = "") -> str:
    """Where this platform answers: STRATUS_PUBLIC_URL, else `recorded`
    (the address a subscription was made through), else loopback on PORT."""
    configured = getattr(settings, "STRATUS_PUBLIC_URL", "")
    if configured:
        return configured.rstrip("/")
    if recorded:
        return recorded.rstrip("/")
    return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"


def signing_cert_url(base: str) -> str:
    return f"{base}/sns/{signing_key().cert_name}"


def unsubscribe_url(base: str, subscription_arn: str) -> str:
    """SNS's form: `?Action=Unsubscribe&SubscriptionArn=<arn>` (the ARN's
    colons left as they are, as SNS writes them)."""
    return f"{base}/sns/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe=':')}"


def subscribe_url(base: str, topic_arn: str, token: str) -> str:
    query = urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn, "Token": token}, safe=":")
    return f"{base}/sns/?{query}"
