"""ListObjectsV2: keys in UTF-8 byte order (SQLite's default collation;
on PostgreSQL the database's collation decides), rolled up into common
prefixes by a delimiter, paged by an opaque continuation token."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from buckets.models import Bucket, Object
from buckets.s3_wire import invalid_argument

BATCH = 1000


@dataclass
class Page:
    contents: list[Object] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_token: str | None = None

    @property
    def key_count(self) -> int:
        return len(self.contents) + len(self.common_prefixes)


def encode_token(after: str, rolled_up: str | None) -> str:
    raw = json.dumps({"a": after, "r": rolled_up}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str) -> tuple[str, str | None]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(value["a"]), value.get("r")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid_argument(
            "The continuation token provided is incorrect", "continuation-token", token
        ) from None


def list_objects(
    bucket: Bucket, *, prefix: str = "", delimiter: str = "", max_keys: int = 1000,
    start_after: str = "", token: str | None = None,
) -> Page:
    after, rolled_up = decode_token(token) if token else (start_after, None)
    page = Page()
    if max_keys <= 0:
        return page
    cursor = max(after, prefix) if after else prefix
    inclusive = not after or prefix > after
    last_item: tuple[str, str | None] | None = None
    while True:
        query = Object.objects.filter(bucket=bucket).order_by("key")
        query = query.filter(key__gte=cursor) if inclusive else query.filter(key__gt=cursor)
        batch = list(query[:BATCH])
        for obj in batch:
            key = obj.key
            if not key.startswith(prefix):
                return page  # past the prefix's keys: they are contiguous
            if rolled_up and key.startswith(rolled_up):
                continue
            if delimiter:
                at = key.find(delimiter, len(prefix))
                if at >= 0:
                    common = key[: at + len(delimiter)]
                    if page.key_count >= max_keys:
                        return _truncate(page, last_item)
                    page.common_prefixes.append(common)
                    rolled_up = common
                    last_item = (common, common)
                    continue
            if page.key_count >= max_keys:
                return _truncate(page, last_item)
            page.contents.append(obj)
            last_item = (key, None)
        if len(batch) < BATCH:
            return page
        cursor, inclusive = batch[-1].key, False


def _truncate(page: Page, last_item: tuple[str, str | None] | None) -> Page:
    page.truncated = True
    if last_item is not None:
        page.next_token = encode_token(*last_item)
    return page
