"""Passwords, stored only as argon2id hashes."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's maintained defaults (RFC 9106 low-memory profile)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than the hasher uses now."""
    return _hasher.check_needs_rehash(password_hash)


@functools.cache
def unused_password_hash() -> str:
    """A hash no password is known for: checked against when there is no such user, so that the answer takes
    as long as for a user who exists."""
    return _hasher.hash(secrets.token_hex(16))
