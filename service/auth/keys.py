"""API keys: creation, listing, revocation and verification.

A key is ``bdl_<prefix>_<secret>`` with 48 random bits of prefix and 256 random bits of secret. Only
the prefix (to find the row) and the SHA-256 digest of the whole key are stored. A fast hash is the
right tool here: unlike passwords, these keys are uniformly random with 256 bits of entropy, so
brute force is hopeless and a slow KDF would only add latency to every request. Digests are compared
with :func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from service.auth.principal import Principal
from service.db import Database
from service.db.auth_models import ApiKeyRecord
from service.db.types import utcnow

KEY_PREFIX = "bdl"


@dataclass(frozen=True)
class KeyInfo:
    """A stored key without its secret."""

    id: str
    name: str
    principal: str
    prefix: str
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(record: ApiKeyRecord) -> KeyInfo:
    return KeyInfo(record.id, record.name, record.principal, record.prefix, record.is_admin, record.created_at,
                   record.revoked_at)


def create_key(db: Database, name: str, *, admin: bool = False, principal: str | None = None) -> tuple[str, KeyInfo]:
    """Create a key; returns the plain key (shown once) and its stored description.

    The principal defaults to ``name``: several keys of one principal (rotation) share what it owns.
    """
    if not name or len(name) > 128:
        raise ValueError("name must have 1..128 characters")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(id=uuid.uuid4().hex, name=name, principal=principal or name, prefix=prefix,
                          digest=_digest(key), is_admin=admin, created_at=utcnow())
    with db.write() as session:
        session.add(record)
        session.flush()
        return key, _info(record)


def list_keys(db: Database) -> list[KeyInfo]:
    """Every key, newest first (revoked ones included)."""
    with db.read() as session:
        records = session.scalars(select(ApiKeyRecord).order_by(ApiKeyRecord.created_at.desc()))
        return [_info(r) for r in records]


def key_reference(reference: str) -> str:
    """The id or prefix a user's reference to a key names.

    Accepted: the whole key (``bdl_<prefix>_<secret>``), ``bdl_<prefix>``, the bare prefix (as
    ``bdlopt keys list`` shows it) or the key's id.
    """
    reference = reference.strip()
    parts = reference.split("_", 2)
    if len(parts) >= 2 and parts[0] == KEY_PREFIX:
        return parts[1]
    return reference


def revoke_key(db: Database, reference: str) -> KeyInfo:
    """Revoke a key named by :func:`key_reference` (KeyError when unknown).

    Given the whole key, the secret must match too: a typo never revokes another key.
    """
    ref = key_reference(reference)
    with db.write() as session:
        record = session.scalars(
            select(ApiKeyRecord).where((ApiKeyRecord.id == ref) | (ApiKeyRecord.prefix == ref))
        ).one_or_none()
        whole_key = reference.strip().count("_") >= 2 and reference.strip().startswith(f"{KEY_PREFIX}_")
        if record is not None and whole_key and not hmac.compare_digest(record.digest, _digest(reference.strip())):
            record = None
        if record is None:
            raise KeyError(reference)
        if record.revoked_at is None:
            record.revoked_at = utcnow()
        session.flush()
        return _info(record)


def active_key_count(db: Database) -> int:
    """How many keys are not revoked (0 means local mode may apply)."""
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKeyRecord).where(ApiKeyRecord.revoked_at.is_(None))) or 0)


def verify_key(db: Database, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    with db.read() as session:
        record = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.prefix == parts[1])).one_or_none()
        found = None if record is None else (record.digest, record.revoked_at, record.principal, record.is_admin)
    expected = found[0] if found is not None else _digest("no-such-key")
    matches = hmac.compare_digest(expected, _digest(key))
    if found is None or not matches or found[1] is not None:
        return None
    return Principal(name=found[2], is_admin=found[3])
