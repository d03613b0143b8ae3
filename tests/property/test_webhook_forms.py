"""Whatever fields a webhook's form holds, the parsers either read it or refuse it with FormError, and the routes
answer Twilio with TwiML, 204, 400 or 404: never a 500. Forms are signed, so that they reach the routes' code."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony import webhooks
from telephony.signatures import SignatureChecker, public_url
from tests.support import settings_with_database
from voice_app.app import create_app
from voice_app.services import build_services

AUTH_TOKEN = "property-auth-token-" + "0" * 12
ACCOUNT = "AC" + "0" * 32
# One call the forms may name, so that some reach the flow past the lookup of the call.
KNOWN_CALL_SID = "CA" + "1" * 32

FIELDS = ("CallSid", "AccountSid", "From", "To", "CallStatus", "DialCallStatus", "QueueResult", "Digits")
VALID_VALUES = {
    "CallSid": [KNOWN_CALL_SID, "CA" + "2" * 32],
    "AccountSid": [ACCOUNT],
    "From": ["+4915112345678", "anonymous", "client:agent", ""],
    "To": ["+4420555010"],
    "CallStatus": sorted(webhooks.CALL_STATUSES),
    "DialCallStatus": sorted(webhooks.DIAL_STATUSES),
    "QueueResult": sorted(webhooks.QUEUE_RESULTS),
    "Digits": ["", "1", "2", "0", "#", "12"],
}
TWILIO_PATHS = (
    "/twilio/voice",
    "/twilio/status",
    "/twilio/after-stream",
    "/twilio/dial-status",
    "/twilio/queue-status",
    "/twilio/choice",
    "/twilio/after-voicemail",
)
PARSERS = (
    webhooks.parse_incoming_call,
    webhooks.parse_call_request,
    webhooks.parse_status_callback,
    webhooks.parse_dial_result,
    webhooks.parse_queue_result,
    webhooks.parse_gather_result,
)

any_text = st.text(max_size=80)
field_values = {name: st.one_of(st.sampled_from(values), any_text) for name, values in VALID_VALUES.items()}
forms = st.fixed_dictionaries({}, optional=field_values)


@pytest.fixture(scope="module")
def client(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("webhooks") / "webhooks.db")
    services = build_services(settings, auth_token=AUTH_TOKEN, secret_key="p" * 40, speech=speech)
    app = create_app(services)
    client = app.test_client()
    base = services.settings.server.public_url

    def post(path: str, form: dict[str, str]):
        signature = SignatureChecker(AUTH_TOKEN).sign(public_url(base, path), form)
        return client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    known = {"CallSid": KNOWN_CALL_SID, "AccountSid": ACCOUNT, "From": "+4915112345678", "To": "+4420555010"}
    assert post("/twilio/voice", known).status_code == 200
    yield post
    services.engine.dispose()


@given(form=forms)
def test_every_parser_reads_a_form_or_refuses_it_with_form_error(form):
    for parse in PARSERS:
        with contextlib.suppress(webhooks.FormError):
            parse(form)


@given(path=st.sampled_from(TWILIO_PATHS), form=forms)
def test_no_signed_form_gets_a_500_from_a_twilio_route(client, path, form):
    response = client(path, form)
    assert response.status_code in (200, 204, 400), (path, form, response.status_code)


@given(token=st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=100), form=forms)
def test_a_whisper_for_any_token_is_found_or_not_never_a_500(client, token, form):
    assert client(f"/twilio/whisper/{token}", form).status_code in (200, 404)
