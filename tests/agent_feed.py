"""An agent signed in to a running console, watching its live list as the browser does: the server-sent event
stream at /agent/events, reconnected whenever the server ends it, every event kept with the moment it arrived."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests

from tests.web.console_support import csrf_token_in

# Longer than the console's heartbeat (15 s), so a quiet but open stream is not taken for a dead one.
READ_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class FeedEvent:
    arrived_at: float  # time.monotonic()
    event_id: str
    data: str


class AgentFeed:
    def __init__(self, base_url: str, username: str, password: str, ca_file: str | None = None) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        # Per request: requests lets REQUESTS_CA_BUNDLE override a session's own setting.
        self.verify = ca_file or True
        login = self.session.get(base_url + "/login", timeout=10, verify=self.verify)
        # A browser sends the page it posts from (the consoles' Referrer-Policy is same-origin); on https the CSRF
        # check requires it.
        answer = self.session.post(
            base_url + "/login",
            timeout=10,
            allow_redirects=False,
            verify=self.verify,
            headers={"Referer": base_url + "/login"},
            data={"csrf_token": csrf_token_in(login.text), "username": username, "password": password},
        )
        if answer.status_code != 302:
            raise RuntimeError(f"signing in as {username} answered HTTP {answer.status_code}")
        self.events: list[FeedEvent] = []
        self.errors: list[str] = []
        self._stopping = threading.Event()
        self._response: requests.Response | None = None
        self._thread = threading.Thread(target=self._follow, name="agent-feed", daemon=True)

    def __enter__(self) -> AgentFeed:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stopping.set()
        if self._response is not None:
            self._response.close()
        self._thread.join(READ_TIMEOUT_SECONDS + 5)
        self.session.close()

    def first_arrival(self, text: str) -> float | None:
        """When an event holding `text` first arrived; None if none did."""
        return next((event.arrived_at for event in self.events if text in event.data), None)

    def _follow(self) -> None:
        last_event_id = ""
        while not self._stopping.is_set():
            try:
                with self.session.get(
                    self.base_url + "/agent/events",
                    stream=True,
                    timeout=(5, READ_TIMEOUT_SECONDS),
                    verify=self.verify,
                    headers={"Last-Event-ID": last_event_id},
                ) as response:
                    self._response = response
                    content_type = response.headers.get("Content-Type", "")
                    if response.status_code != 200 or not content_type.startswith("text/event-stream"):
                        self.errors.append(f"/agent/events answered HTTP {response.status_code}")
                        return
                    last_event_id = self._read(response, last_event_id)
            except (requests.RequestException, AttributeError, ValueError) as error:
                # Closing the response from another thread to stop ends the read with one of these.
                if not self._stopping.is_set():
                    self.errors.append(f"/agent/events failed: {error!r}")
                    time.sleep(1)

    def _read(self, response: requests.Response, last_event_id: str) -> str:
        event_id, data = last_event_id, []
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("id: "):
                event_id = line.removeprefix("id: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
            elif line == "" and data:
                self.events.append(FeedEvent(time.monotonic(), event_id, "\n".join(data)))
                last_event_id, data = event_id, []
        return last_event_id
