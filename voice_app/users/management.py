"""Creating, listing and deactivating console users, and setting their passwords."""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from voice_app.users.models import Role, User
from voice_app.users.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from voice_app.users.sessions import revoke_sessions_of

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why and may be shown to an operator."""


def check_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError("username must be 3 to 64 characters of a-z, 0-9, '.', '_' and '-'")


def check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")


def create_user(engine: Engine, username: str, password: str, role: Role | str) -> User:
    check_username(username)
    check_password(password)
    if role not in set(Role):
        raise UserError(f"role must be one of {', '.join(Role)}, not {role!r}")
    user = User(username=username, password_hash=hash_password(password), role=Role(role).value)
    with Session(engine) as session:
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            raise UserError(f"user {username!r} already exists") from None
        session.refresh(user)
        return user


def list_users(engine: Engine) -> list[User]:
    with Session(engine) as session:
        return list(session.exec(select(User).order_by(col(User.username))))


def _change_user(engine: Engine, username: str, **values: object) -> bool:
    """Sets `values` on the user and ends all their sessions, in one transaction; False when there is no such
    user."""
    with Session(engine) as session:
        user_id = session.exec(select(User.id).where(User.username == username)).first()
        if user_id is None:
            return False
        session.exec(update(User).where(col(User.id) == user_id).values(**values))
        revoke_sessions_of(session, user_id)
        session.commit()
        return True


def deactivate_user(engine: Engine, username: str) -> bool:
    """False when there is no such user. The row stays: callbacks name who closed them."""
    return _change_user(engine, username, active=False)


def set_password(engine: Engine, username: str, password: str) -> bool:
    """A new password; every session signed in with the old one ends. False when there is no such user."""
    check_password(password)
    return _change_user(engine, username, password_hash=hash_password(password))


def usernames_by_id(engine: Engine, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    with Session(engine) as session:
        rows = session.exec(select(User.id, User.username).where(col(User.id).in_(user_ids))).all()
    return {user_id: username for user_id, username in rows if user_id is not None}  # None only to the type checker
