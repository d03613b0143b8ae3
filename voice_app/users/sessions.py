"""Console sessions kept on the server, so that they can be ended: the browser's cookie carries only a random
token, and every request looks up its row. Signing out revokes that row; a changed password or a deactivation
revokes all of the user's rows, on every instance at once, since they share the database."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from voice_app.models import utcnow
from voice_app.users.models import ConsoleSession, User
from voice_app.users.sign_in import SignedInUser, signed_in


def _token_hash(token: str) -> str:
    # A plain hash is enough: the token is 256 random bits, nothing to guess.
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(engine: Engine, user_id: int, lifetime: timedelta) -> str:
    """A new session for the user, ending after `lifetime` however active; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with Session(engine) as session:
        # Expired rows are of no further use; clearing them here keeps the table to the sessions that could be live.
        session.exec(delete(ConsoleSession).where(col(ConsoleSession.expires_at) < now))
        session.add(ConsoleSession(token_hash=_token_hash(token), user_id=user_id, expires_at=now + lifetime))
        session.commit()
    return token


def session_user(engine: Engine, token: str) -> SignedInUser | None:
    """The user whose live session this token is: not revoked, not expired, and the user still active."""
    with Session(engine) as session:
        user = session.exec(
            select(User)
            .join(ConsoleSession, col(ConsoleSession.user_id) == col(User.id))
            .where(
                ConsoleSession.token_hash == _token_hash(token),
                col(ConsoleSession.revoked_at).is_(None),
                col(ConsoleSession.expires_at) > utcnow(),
                col(User.active).is_(True),
            )
        ).first()
    return signed_in(user) if user is not None else None


def end_session(engine: Engine, token: str) -> None:
    with Session(engine) as session:
        session.exec(
            update(ConsoleSession)
            .where(col(ConsoleSession.token_hash) == _token_hash(token), col(ConsoleSession.revoked_at).is_(None))
            .values(revoked_at=utcnow())
        )
        session.commit()


def revoke_sessions_of(session: Session, user_id: int) -> None:
    """Ends every session of the user, inside the caller's transaction (the change that calls for it)."""
    session.exec(
        update(ConsoleSession)
        .where(col(ConsoleSession.user_id) == user_id, col(ConsoleSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
