"""The real server on a loopback port inside this process: for `voice-app call`, the demo and the tests."""

from __future__ import annotations

import dataclasses
import secrets
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from voice_app.app import create_app
from voice_app.config import Settings
from voice_app.services import ConversationObserver, Services, Speech, build_services

LOOPBACK = "127.0.0.1"


def _not_ready(_environ, start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting\n"]


class LocalServer:
    """Binds a free loopback port first, so the public URL (and with it every signature) is known before the
    app is built, then serves the app on a background thread until closed."""

    def __init__(
        self,
        settings: Settings,
        *,
        auth_token: str,
        secret_key: str,
        speech: Speech | None = None,
        observer: ConversationObserver | None = None,
    ):
        self.auth_token = auth_token
        self._server: BaseWSGIServer = make_server(LOOPBACK, 0, _not_ready, threaded=True)
        self.url = f"http://{LOOPBACK}:{self._server.server_port}"
        self.settings = dataclasses.replace(settings, server=dataclasses.replace(settings.server, public_url=self.url))
        self.services: Services = build_services(
            self.settings, auth_token=auth_token, secret_key=secret_key, speech=speech, observer=observer
        )
        self._server.app = create_app(self.services)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-server", daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()
        self.services.engine.dispose()


def local_secret_key(var_dir: Path) -> str:
    """The pseudonym key for local runs without VOICE_APP_SECRET_KEY: made once, readable only by its owner."""
    path = var_dir / "local-secret-key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
