"""Checking a username and password, with throttles on wrong ones that a stranger cannot turn into a lock-out.

Two throttles, both kept in the database so that every server instance sees them:
- per client address: after MAX_FAILURES_PER_ADDRESS wrong sign-ins within ADDRESS_WINDOW, whatever the
  usernames, that address is refused until the oldest leaves the window. This is what stops password spraying.
- per username: the first FREE_FAILURES_PER_USERNAME wrong passwords cost nothing; after that each attempt must
  wait a delay after the latest failure, doubling from FIRST_DELAY up to LONGEST_DELAY. An attempt within the
  delay is refused without trying the password and is not counted, and a right password after it always signs
  in. So many addresses together get at most four guesses an hour at one username, and a stranger can never
  make a user wait more than LONGEST_DELAY.
A browser the user signed in with before (it proves it with a signed cookie naming the username's key, see
`voice_app.web.auth`) is not held by the username's delay at all, so that strangers cannot keep a user out of
their own browser; it is still subject to its address's throttle. An admin lifts a username's delay at once with
`voice-app users unlock`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, delete, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app.models import utcnow
from voice_app.users.models import LoginFailure, Role, User
from voice_app.users.passwords import hash_password, needs_rehash, password_matches, unused_password_hash

MAX_FAILURES_PER_ADDRESS = 20
ADDRESS_WINDOW = timedelta(minutes=15)
FREE_FAILURES_PER_USERNAME = 5
FIRST_DELAY = timedelta(minutes=1)
LONGEST_DELAY = timedelta(minutes=15)
# How long a username's failures keep counting towards its delay.
FAILURE_MEMORY = timedelta(hours=24)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedInUser:
    """A user who gave the right password: no password hash, no database session attached."""

    id: int
    username: str
    role: str

    def may(self, *roles: Role) -> bool:
        return self.role == Role.ADMIN or self.role in roles


@dataclass(frozen=True)
class SignInResult:
    user: SignedInUser | None
    throttled: bool = False


def signed_in(user: User) -> SignedInUser:
    assert user.id is not None  # a stored row always has one
    return SignedInUser(id=user.id, username=user.username, role=user.role)


def normalised_username(username: str) -> str:
    return username.strip().lower()


def username_key(username: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), normalised_username(username).encode(), hashlib.sha256).hexdigest()


def _client_key(address: str, secret_key: str) -> str:
    # Prefixed so that an address can never collide with a username's key.
    return hmac.new(secret_key.encode(), f"address:{address}".encode(), hashlib.sha256).hexdigest()


def username_delay(failures: int) -> timedelta:
    """How long after its latest failure a username with this many recent failures must wait."""
    if failures < FREE_FAILURES_PER_USERNAME:
        return timedelta(0)
    doublings = min(failures - FREE_FAILURES_PER_USERNAME, 10)  # bounded: the cap is reached long before
    return min(FIRST_DELAY * 2**doublings, LONGEST_DELAY)


def _count(session: Session, *conditions: ColumnElement[bool] | bool) -> int:
    return session.exec(select(func.count()).select_from(LoginFailure).where(*conditions)).one()


def _throttled(session: Session, key: str, client: str, known_browser: bool) -> bool:
    now = utcnow()
    if _count(session, LoginFailure.client_key == client, col(LoginFailure.at) >= now - ADDRESS_WINDOW) >= (
        MAX_FAILURES_PER_ADDRESS
    ):
        log.warning("sign-in refused: %d failures from one address within the window", MAX_FAILURES_PER_ADDRESS)
        return True
    if known_browser:
        return False
    delay = username_delay(_count(session, LoginFailure.username_key == key))
    # Compared in SQL: SQLite hands back timestamps without their time zone.
    if delay and _count(session, LoginFailure.username_key == key, col(LoginFailure.at) > now - delay):
        log.warning("sign-in refused: the username waits %d s after repeated failures", delay.total_seconds())
        return True
    return False


def sign_in(
    engine: Engine,
    username: str,
    password: str,
    *,
    secret_key: str,
    client_address: str,
    known_browser_key: str | None = None,
) -> SignInResult:
    """Checks a username and password from a client address. Failures count whether or not the user exists, so
    that neither the answer, nor the throttle, nor the time taken tells which usernames exist.
    `known_browser_key` is the username key a signed cookie of the browser vouches for, if any."""
    username = normalised_username(username)
    key = username_key(username, secret_key)
    client = _client_key(client_address, secret_key)
    known_browser = known_browser_key is not None and hmac.compare_digest(known_browser_key, key)
    with Session(engine) as session:
        session.exec(delete(LoginFailure).where(col(LoginFailure.at) < utcnow() - FAILURE_MEMORY))
        if _throttled(session, key, client, known_browser):
            session.commit()
            return SignInResult(user=None, throttled=True)
        user = session.exec(select(User).where(User.username == username)).first()
        matches = password_matches(user.password_hash if user else unused_password_hash(), password)
        if user is None or not matches or not user.active:
            session.add(LoginFailure(username_key=key, client_key=client))
            session.commit()
            return SignInResult(user=None)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            session.add(user)
        session.exec(delete(LoginFailure).where(col(LoginFailure.username_key) == key))
        session.commit()
        return SignInResult(user=signed_in(user))


def lift_username_delay(engine: Engine, username: str, *, secret_key: str) -> int:
    """Forgets the username's failures (an admin's decision); returns how many there were. Addresses stay
    throttled: they may be a stranger's."""
    with Session(engine) as session:
        result = session.exec(
            delete(LoginFailure).where(col(LoginFailure.username_key) == username_key(username, secret_key))
        )
        session.commit()
        return result.rowcount
