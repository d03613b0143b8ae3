"""Signing in to the web consoles and out again, and the role check for views. The users themselves, their
passwords, sessions and the throttles on wrong passwords are `voice_app.users`.

Sessions are rows on the server (`voice_app.users.sessions`): Flask's signed cookie (HttpOnly, SameSite=Lax,
Secure behind https) carries only a random token, and every request looks its row up, so signing out, a changed
password and a deactivation end a session on every instance even if someone kept a copy of the cookie. A session
ends 8 hours after sign-in however active it was. Every form post is CSRF-checked app-wide, so a new console
cannot forget it.

Signing in also leaves a "known browser" cookie, signed and naming only the username's keyed hash, for 30 days:
such a browser is not held by the username's delay after strangers' wrong passwords (see
`voice_app.users.sign_in`). The client's address for the address throttle is the peer's, except that a peer on
loopback is taken to be the nginx of the deployment, and then the address nginx appended last to
X-Forwarded-For counts; anything a client put in that header before it is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

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
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from voice_app.services import Services
from voice_app.users.models import Role
from voice_app.users.passwords import MAX_PASSWORD_LENGTH
from voice_app.users.sessions import end_session, session_user, start_session
from voice_app.users.sign_in import SignedInUser, sign_in, username_key

SESSION_LIFETIME = timedelta(hours=8)
KNOWN_BROWSER_LIFETIME = timedelta(days=30)
WRONG_CREDENTIALS = "Wrong username or password."
# One answer for both throttles: which one it was would tell a stranger more than the user needs.
THROTTLED = "Too many failed sign-ins. Try again in a few minutes, or ask an admin."
# Where each role lands after signing in; a role without a console yet gets the account page.
HOME_ENDPOINTS = {
    "agent": "agent_console.handoff_list",
    "compliance": "compliance.search",
    "admin": "agent_console.handoff_list",
}


@dataclass(frozen=True)
class ConsoleUser(SignedInUser, UserMixin):
    """The signed-in user as Flask-Login keeps it for a request."""

    def get_id(self) -> str:
        return str(self.id)

    @classmethod
    def of(cls, user: SignedInUser) -> ConsoleUser:
        return cls(id=user.id, username=user.username, role=user.role)


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
def _load_user(user_id: str) -> ConsoleUser | None:
    token = session.get("session_token")
    if not isinstance(token, str):
        return None
    user = session_user(_services().engine, token)
    return ConsoleUser.of(user) if user is not None and str(user.id) == user_id else None


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


def client_address() -> str:
    peer = request.remote_addr or "unknown"
    if not _is_loopback(peer):
        return peer
    forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
    return forwarded if _is_ip_address(forwarded) else peer


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_loopback(text: str) -> bool:
    return _is_ip_address(text) and ipaddress.ip_address(text).is_loopback


def _known_browsers() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_services().secret_key, salt="known-browser")


def _known_browser_cookie() -> str:
    return (
        "__Host-voice_app_known_browser" if current_app.config["SESSION_COOKIE_SECURE"] else "voice_app_known_browser"
    )


def _known_browser_key() -> str | None:
    cookie = request.cookies.get(_known_browser_cookie())
    if not cookie:
        return None
    try:
        key = _known_browsers().loads(cookie, max_age=int(KNOWN_BROWSER_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return key if isinstance(key, str) else None


def _remember_browser(response: Response, user: SignedInUser) -> None:
    response.set_cookie(
        _known_browser_cookie(),
        _known_browsers().dumps(username_key(user.username, _services().secret_key)),
        max_age=int(KNOWN_BROWSER_LIFETIME.total_seconds()),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Strict",
    )


@auth.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_home_url())
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        services = _services()
        result = sign_in(
            services.engine,
            form.username.data,
            form.password.data,
            secret_key=services.secret_key,
            client_address=client_address(),
            known_browser_key=_known_browser_key(),
        )
        if result.user is not None:
            session.clear()  # nothing from before the sign-in carries over, a planted CSRF token least of all
            session.permanent = True
            session["session_token"] = start_session(services.engine, result.user.id, SESSION_LIFETIME)
            login_user(ConsoleUser.of(result.user))
            response = redirect(_safe_next(request.args.get("next")) or _home_url())
            _remember_browser(response, result.user)
            return response
        error, status = (THROTTLED, 429) if result.throttled else (WRONG_CREDENTIALS, 200)
    return render_template("login.html", form=form, error=error), status


@auth.post("/logout")
def logout() -> Response:
    token = session.get("session_token")
    if isinstance(token, str):
        end_session(_services().engine, token)
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
