"""Who may use the web consoles: users with a role, sign-in and sign-out, and the role check for views.

Passwords are stored only as argon2id hashes. Sessions live in Flask's signed cookie (HttpOnly, SameSite=Lax,
Secure behind https) and end 8 hours after sign-in however active they were. Every form post is CSRF-checked
app-wide, so a new console cannot forget it. Repeated wrong passwords for one username lock that username for
a while; the failures are kept in the database so that every server instance sees them.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Column, DateTime, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from voice_app.models import utcnow

if TYPE_CHECKING:
    # Only for annotations: voice_app.database imports this module for its tables, and services imports database.
    from voice_app.services import Services

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)
WRONG_CREDENTIALS = "Wrong username or password."
LOCKED_OUT = "Too many failed sign-ins for this username. Try again within 15 minutes."
# Where each role lands after signing in; a role without a console yet gets the account page.
HOME_ENDPOINTS = {
    "agent": "agent_console.handoff_list",
    "compliance": "compliance.search",
    "admin": "agent_console.handoff_list",
}

log = logging.getLogger(__name__)
_hasher = PasswordHasher()  # argon2id with the library's maintained defaults (RFC 9106 low-memory profile)


class Role(StrEnum):
    AGENT = "agent"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LoginFailure(SQLModel, table=True):
    """One wrong sign-in. The username is kept only as a keyed hash: people type passwords into the username
    field, and this table must not become a list of them."""

    __tablename__ = "login_failures"

    id: int | None = Field(default=None, primary_key=True)
    username_key: str = Field(index=True, max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why and may be shown to an operator."""


@dataclass(frozen=True)
class SignedInUser(UserMixin):
    """The signed-in user as the views see it: no password hash, no database session attached."""

    id: int
    username: str
    role: str

    def get_id(self) -> str:
        return str(self.id)

    def may(self, *roles: Role) -> bool:
        return self.role == Role.ADMIN or self.role in roles


@dataclass(frozen=True)
class SignInResult:
    user: SignedInUser | None
    locked_out: bool = False


# -- users ------------------------------------------------------------------------------------------------

def check_username(username: str) -> None:
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError("username must be 3 to 64 characters of a-z, 0-9, '.', '_' and '-'")


def create_user(engine: Engine, username: str, password: str, role: Role | str) -> User:
    check_username(username)
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(f"password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters long")
    if role not in set(Role):
        raise UserError(f"role must be one of {', '.join(Role)}, not {role!r}")
    user = User(username=username, password_hash=_hasher.hash(password), role=Role(role).value)
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
        return list(session.exec(select(User).order_by(User.username)))


def deactivate_user(engine: Engine, username: str) -> bool:
    """False when there is no such user. The row stays: callbacks name who closed them."""
    with Session(engine) as session:
        result = session.exec(update(User).where(User.username == username).values(active=False))
        session.commit()
        return result.rowcount == 1


def usernames_by_id(engine: Engine, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    with Session(engine) as session:
        return dict(session.exec(select(User.id, User.username).where(User.id.in_(user_ids))).all())


# -- signing in -------------------------------------------------------------------------------------------

@functools.cache
def _unused_password_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _failure_key(username: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), username.encode(), hashlib.sha256).hexdigest()


def sign_in(engine: Engine, username: str, password: str, *, secret_key: str) -> SignInResult:
    """Checks a username and password, counting failures per username, whether or not the user exists, so
    that neither the answer, nor the lock-out, nor the time taken tells which usernames exist."""
    username = username.strip().lower()
    key = _failure_key(username, secret_key)
    window_start = utcnow() - FAILED_LOGIN_WINDOW
    with Session(engine) as session:
        session.exec(delete(LoginFailure).where(LoginFailure.at < window_start))
        recent_failures = len(
            session.exec(
                select(LoginFailure.id).where(LoginFailure.username_key == key, LoginFailure.at >= window_start)
            ).all()
        )
        if recent_failures >= MAX_FAILED_LOGINS:
            # Not counted as another failure: the password was not tried, and counting would let anyone keep
            # an agent locked out for good.
            session.commit()
            log.warning("sign-in refused: %d failures for one username within the window", recent_failures)
            return SignInResult(user=None, locked_out=True)
        user = session.exec(select(User).where(User.username == username)).first()
        matches = _password_matches(user.password_hash if user else _unused_password_hash(), password)
        if user is None or not matches or not user.active:
            session.add(LoginFailure(username_key=key))
            session.commit()
            return SignInResult(user=None)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            session.add(user)
        session.exec(delete(LoginFailure).where(LoginFailure.username_key == key))
        session.commit()
        return SignInResult(user=SignedInUser(id=user.id, username=user.username, role=user.role))


# -- Flask wiring -------------------------------------------------------------------------------------------

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see this page."
login_manager.login_message_category = "info"
csrf = CSRFProtect()
auth = Blueprint("auth", __name__)


def _services() -> Services:
    return current_app.extensions["voice_app"]


def init_auth(app: Flask) -> None:
    """Session cookie settings, Flask-Login, app-wide CSRF checks and security headers on HTML pages. Needs the
    services in the app already; blueprints that are not cookie-authenticated (Twilio's) must be exempted with
    `csrf.exempt`."""
    services: Services = app.extensions["voice_app"]
    secure = services.settings.server.public_url.startswith("https://")
    app.config.update(
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and for path /.
        SESSION_COOKIE_NAME="__Host-voice_app_session" if secure else "voice_app_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # A form left open stays valid for as long as the session it belongs to.
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    app.jinja_env.globals["csp_nonce"] = _csp_nonce
    app.after_request(_add_security_headers)


def _csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _add_security_headers(response: Response) -> Response:
    # The consoles show text that came from callers; a nonce-only policy keeps any markup that slipped through
    # escaping from running or loading anything.
    if response.mimetype == "text/html":
        nonce = g.get("csp_nonce")
        allowed = f"'nonce-{nonce}'" if nonce else "'none'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'none'; script-src {allowed}; style-src {allowed}; connect-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@login_manager.user_loader
def _load_user(user_id: str) -> SignedInUser | None:
    signed_in_at = session.get("signed_in_at")
    # Enforced here as well as by the cookie's expiry, because the cookie is re-issued on every request.
    if not isinstance(signed_in_at, (int, float)) or time.time() - signed_in_at > SESSION_LIFETIME.total_seconds():
        return None
    if not user_id.isdigit():
        return None
    with Session(_services().engine) as db:
        user = db.get(User, int(user_id))
    if user is None or not user.active:
        return None
    return SignedInUser(id=user.id, username=user.username, role=user.role)


ViewFunction = TypeVar("ViewFunction", bound=Callable[..., object])


def role_required(*roles: Role) -> Callable[[ViewFunction], ViewFunction]:
    """Admits signed-in users with one of `roles`, and admins; sends others to sign in, or answers 403."""
    if not roles:
        raise ValueError("name at least one role (admins are always admitted)")
    allowed = {Role(role) for role in roles}

    def decorate(view: ViewFunction) -> ViewFunction:
        @functools.wraps(view)
        def guarded(*args: object, **kwargs: object) -> object:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.may(*allowed):
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired("Enter your username."), Length(max=64)])
    password = PasswordField(
        "Password", validators=[InputRequired("Enter your password."), Length(max=MAX_PASSWORD_LENGTH)]
    )


def _safe_next(target: str | None) -> str | None:
    """A same-site path to return to after signing in, or None: never an address on another site."""
    if not target or len(target) > 512 or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers drop tabs and newlines in URLs and read "\" as "/", which would turn "/\t/evil" into "//evil".
    if "\\" in target or any(ord(character) < 0x21 or character == "\x7f" for character in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _home_url() -> str:
    endpoint = HOME_ENDPOINTS.get(current_user.role)
    return url_for(endpoint) if endpoint else url_for("auth.account")


@auth.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_home_url())
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        services = _services()
        result = sign_in(services.engine, form.username.data, form.password.data, secret_key=services.secret_key)
        if result.user is not None:
            session.clear()  # nothing from before the sign-in carries over, a planted CSRF token least of all
            session.permanent = True
            session["signed_in_at"] = time.time()
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")) or _home_url())
        error, status = (LOCKED_OUT, 429) if result.locked_out else (WRONG_CREDENTIALS, 200)
    return render_template("login.html", form=form, error=error), status


@auth.post("/logout")
def logout() -> Response:
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@auth.get("/")
def home() -> Response:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(_home_url())


@auth.get("/account")
@role_required(*Role)
def account() -> str:
    return render_template("account.html")
