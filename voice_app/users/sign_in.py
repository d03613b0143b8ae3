"""Checking a username and password, with a lock-out after repeated failures. The failures are kept in the
database so that every server instance sees them."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app.models import utcnow
from voice_app.users.models import LoginFailure, Role, User
from voice_app.users.passwords import hash_password, needs_rehash, password_matches, unused_password_hash

MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)

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
    locked_out: bool = False


def _signed_in(user: User) -> SignedInUser:
    assert user.id is not None  # a stored row always has one
    return SignedInUser(id=user.id, username=user.username, role=user.role)


def _failure_key(username: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), username.encode(), hashlib.sha256).hexdigest()


def sign_in(engine: Engine, username: str, password: str, *, secret_key: str) -> SignInResult:
    """Checks a username and password, counting failures per username, whether or not the user exists, so
    that neither the answer, nor the lock-out, nor the time taken tells which usernames exist."""
    username = username.strip().lower()
    key = _failure_key(username, secret_key)
    window_start = utcnow() - FAILED_LOGIN_WINDOW
    with Session(engine) as session:
        session.exec(delete(LoginFailure).where(col(LoginFailure.at) < window_start))
        recent_failures = len(
            session.exec(
                select(LoginFailure.id).where(LoginFailure.username_key == key, col(LoginFailure.at) >= window_start)
            ).all()
        )
        if recent_failures >= MAX_FAILED_LOGINS:
            # Not counted as another failure: the password was not tried, and counting would let anyone keep
            # an agent locked out for good.
            session.commit()
            log.warning("sign-in refused: %d failures for one username within the window", recent_failures)
            return SignInResult(user=None, locked_out=True)
        user = session.exec(select(User).where(User.username == username)).first()
        matches = password_matches(user.password_hash if user else unused_password_hash(), password)
        if user is None or not matches or not user.active:
            session.add(LoginFailure(username_key=key))
            session.commit()
            return SignInResult(user=None)
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            session.add(user)
        session.exec(delete(LoginFailure).where(col(LoginFailure.username_key) == key))
        session.commit()
        return SignInResult(user=_signed_in(user))


def active_user(engine: Engine, user_id: int) -> SignedInUser | None:
    """The user with this id, unless there is none or they were deactivated."""
    with Session(engine) as session:
        user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return _signed_in(user)
