"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from telephony.media_protocol import MAX_FRAME_BYTES
from voice_app.observability.health import init_health
from voice_app.services import Services
from voice_app.web.agent_console import agent_console
from voice_app.web.auth import auth, csrf, init_auth
from voice_app.web.compliance import audit_log, compliance
from voice_app.web.dashboard import dashboard
from voice_app.web.twilio_routes import handoff_audio, sock, twilio_routes


def create_app(services: Services) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=services.secret_key,
        MAX_CONTENT_LENGTH=64 * 1024,  # Twilio's form posts are a few hundred bytes
        SOCK_SERVER_OPTIONS={"ping_interval": None, "max_message_size": MAX_FRAME_BYTES},
    )
    app.extensions["voice_app"] = services
    app.register_blueprint(twilio_routes)
    app.register_blueprint(handoff_audio)
    sock.init_app(app)
    init_auth(app)
    csrf.exempt(twilio_routes)  # Twilio's requests are authenticated by their signature, not a session cookie
    app.register_blueprint(auth)
    app.register_blueprint(agent_console)
    app.register_blueprint(dashboard)
    app.register_blueprint(compliance)
    app.register_blueprint(audit_log)
    init_health(app, services)
    return app
