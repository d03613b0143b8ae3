"""Who may do what: every route of the app, with every method it accepts, requested anonymously and as an agent,
a compliance officer and an admin, against the status the design gives each. The routes are read from the app's
URL map, so a route added without an entry here fails the test until someone decides who may use it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from console_support import csrf_token_in, new_call, sign_in
from werkzeug.routing import Rule

from voice_app.handoff.queries import record_handoff, request_callback
from voice_app.observability.health import METRICS_TOKEN_VARIABLE

ROLES = ("anonymous", "agent", "compliance", "admin")
LOGIN = "redirect to sign in"
ELSEWHERE = "redirect, not to sign in"


def anyone(outcome: int | str) -> tuple[int | str, ...]:
    return (outcome,) * len(ROLES)


def signed_in_as(*roles: str, admitted: int | str = 200) -> tuple[int | str, ...]:
    """Sign in first; then the named roles and admins are admitted, other roles refused."""
    return tuple(LOGIN if role == "anonymous" else admitted if role in (*roles, "admin") else 403 for role in ROLES)


TWILIO_ONLY = anyone(403)  # without Twilio's signature nobody, signed in or not, gets past the check

# (rule, method): the outcome for anonymous, agent, compliance, admin. HEAD answers as GET does.
MATRIX: dict[tuple[str, str], tuple[int | str, ...]] = {
    ("/", "GET"): (LOGIN, ELSEWHERE, ELSEWHERE, ELSEWHERE),
    ("/login", "GET"): (200, ELSEWHERE, ELSEWHERE, ELSEWHERE),
    ("/login", "POST"): (200, ELSEWHERE, ELSEWHERE, ELSEWHERE),  # anonymous: the blank form comes back
    ("/logout", "POST"): anyone(LOGIN),
    ("/account", "GET"): signed_in_as("agent", "compliance"),
    ("/agent/", "GET"): signed_in_as("agent"),
    ("/agent/events", "GET"): signed_in_as("agent"),
    ("/agent/handoffs/<int(min=1, max=2147483647):handoff_id>", "GET"): signed_in_as("agent"),
    ("/agent/callbacks/<int(min=1, max=2147483647):callback_id>/done", "POST"): signed_in_as(
        "agent", admitted=ELSEWHERE
    ),
    ("/agent/voicemails/<int(min=1, max=2147483647):voicemail_id>.wav", "GET"): signed_in_as("agent", admitted=404),
    ("/compliance/", "GET"): signed_in_as("compliance"),
    ("/compliance/", "POST"): signed_in_as("compliance"),
    ("/compliance/export", "POST"): signed_in_as("compliance"),
    # A blank phone number: the form comes back with its error.
    ("/compliance/access-request", "POST"): signed_in_as("compliance", admitted=ELSEWHERE),
    ("/compliance/calls/<call_sid>", "GET"): signed_in_as("compliance"),
    ("/dashboard/", "GET"): signed_in_as("compliance"),
    ("/admin/audit", "GET"): signed_in_as(),
    ("/healthz", "GET"): anyone(200),
    ("/readyz", "GET"): anyone(200),
    ("/metrics", "GET"): anyone(401),  # its bearer token, never a console session
    # Fetched by Twilio without a signature; the prompt under a wrong digest and an unknown token are not found.
    ("/prompt-audio/<language>/<name>.wav", "GET"): anyone(404),
    ("/handoff-audio/<token>.wav", "GET"): anyone(404),
    ("/static/<path:filename>", "GET"): anyone(404),
    ("/twilio/voice", "POST"): TWILIO_ONLY,
    ("/twilio/media", "GET"): TWILIO_ONLY,
    ("/twilio/after-stream", "POST"): TWILIO_ONLY,
    ("/twilio/whisper/<token>", "POST"): TWILIO_ONLY,
    ("/twilio/dial-status", "POST"): TWILIO_ONLY,
    ("/twilio/queue-status", "POST"): TWILIO_ONLY,
    ("/twilio/choice", "POST"): TWILIO_ONLY,
    ("/twilio/voicemail", "GET"): TWILIO_ONLY,
    ("/twilio/after-voicemail", "POST"): TWILIO_ONLY,
    ("/twilio/status", "POST"): TWILIO_ONLY,
}
# Signing out ends the session the later requests of the role need, so it goes last.
SESSION_ENDING = {("/logout", "POST")}


def requests_to_make(app) -> list[tuple[Rule, str]]:
    """Every method of every route, HEAD and OPTIONS included."""
    found = [(rule, method) for rule in app.url_map.iter_rules() for method in rule.methods]
    return sorted(
        found, key=lambda request: ((request[0].rule, request[1]) in SESSION_ENDING, request[0].rule, request[1])
    )


def outcome_of(response) -> int | str:
    if response.status_code in (301, 302, 303, 307, 308):
        return LOGIN if urlsplit(response.headers["Location"]).path == "/login" else ELSEWHERE
    return response.status_code


@pytest.fixture
def clients(app, make_user):
    clients = {"anonymous": app.test_client()}
    for role in ROLES[1:]:
        clients[role] = app.test_client()
        response = sign_in(clients[role], make_user(role))
        assert outcome_of(response) == ELSEWHERE, role
    return clients


@pytest.fixture
def placeholders(services):
    """A value for each URL argument of the app; where a record can be named, one that exists."""
    call = new_call(services.engine, consent="granted")
    handoff = record_handoff(
        services.engine,
        call.id,
        reason="caller_asked",
        summary="Summary.",
        transcript_excerpt="",
        customer_name=None,
        verified=False,
        consent_decision="granted",
        language="en",
        dial_target="+4930123456789",
    )
    callback = request_callback(services.engine, call.id)
    return {
        "call_sid": call.call_sid,
        "handoff_id": handoff.id,
        "callback_id": callback.id,
        "voicemail_id": 1,  # none is stored: the admitted roles are told so, the others are refused first
        "token": "0" * 43,
        "language": "en",
        "name": "not-a-prompt-0000",
        "filename": "missing.css",
    }


def test_every_route_answers_each_role_as_the_matrix_says(app, clients, placeholders, monkeypatch):
    monkeypatch.setenv(METRICS_TOKEN_VARIABLE, "metrics-token-" + "7" * 20)
    routes = requests_to_make(app)
    declared = {(rule.rule, method) for rule, method in routes if method not in ("HEAD", "OPTIONS")}
    assert sorted(declared - MATRIX.keys()) == [], "routes without an entry in the matrix: decide who may use them"
    assert sorted(MATRIX.keys() - declared) == [], "entries for routes the app no longer has"

    urls = app.url_map.bind("localhost")
    tokens = {
        role: csrf_token_in(client.get("/login" if role == "anonymous" else "/account").get_data(as_text=True))
        for role, client in clients.items()
    }
    wrong = []
    for rule, method in routes:
        values = {name: placeholders[name] for name in rule.arguments}
        # Websocket routes build as ws:// URLs and are only routed for a request asking to upgrade.
        path = urlsplit(urls.build(rule.endpoint, values, method=method)).path
        headers = {"Connection": "Upgrade", "Upgrade": "websocket"} if rule.websocket else {}
        for role, client in clients.items():
            # A valid CSRF token, so that what answers is the authorization, not the CSRF check.
            data = {"csrf_token": tokens[role]} if method == "POST" else None
            response = client.open(path, method=method, data=data, headers=headers)
            got = outcome_of(response)
            if method == "OPTIONS":
                # Flask's own answer naming the methods, behind the same Twilio signature check.
                expected = 403 if all(MATRIX[key] == TWILIO_ONLY for key in declared if key[0] == rule.rule) else 200
                if got == 200 and response.get_data():
                    wrong.append(f"{role} {method} {path}: OPTIONS answered with a body")
            else:
                expected = MATRIX[(rule.rule, "GET" if method == "HEAD" else method)][ROLES.index(role)]
            response.close()  # the agent's event stream never ends by itself
            if got != expected:
                wrong.append(f"{role} {method} {path}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)
