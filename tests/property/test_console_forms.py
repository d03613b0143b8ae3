"""Whatever the consoles' forms hold (sign-in, the compliance search, export and access request, marking a
callback done, the audit log's and dashboard's filters): a page, a redirect or a refusal, never a 500."""

from __future__ import annotations

import re
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import settings_with_database
from voice_app import calls
from voice_app.app import create_app
from voice_app.handoff.queries import record_handoff, request_callback
from voice_app.services import build_services
from voice_app.users.management import create_user

PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')
SEARCH_FIELDS = (
    "date_from", "date_to", "call_ref", "decision", "notice_version", "language", "subject", "phone", "page",
    "format",
)  # fmt: skip

text = st.text(max_size=60)
likely = st.sampled_from(
    ["", "1", "0", "-1", "999999999999", "2026-11-30", "2026-02-30", "granted", "csv", "json", "en", "+4915112345678",
     "CA" + "1" * 32, "a" * 64, "../", "<script>", "%00", "1e9", "v1"]
)  # fmt: skip
field_value = st.one_of(likely, text)


def csrf_token(client, path: str) -> str:
    found = CSRF_FIELD.search(client.get(path).get_data(as_text=True))
    assert found is not None, path
    return found.group(1)


@pytest.fixture(scope="module")
def services(tmp_path_factory, base_settings, speech):
    settings = settings_with_database(base_settings, tmp_path_factory.mktemp("consoles") / "consoles.db")
    services = build_services(settings, auth_token="c" * 32, secret_key="q" * 40, speech=speech)
    yield services
    services.engine.dispose()


@pytest.fixture(scope="module")
def app(services):
    app = create_app(services)
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def admin(app, services):
    """A signed-in admin (who may use every console) and the CSRF token of the session."""
    username = "admin-" + secrets.token_hex(4)
    create_user(services.engine, username, PASSWORD, "admin")
    client = app.test_client()
    token = csrf_token(client, "/login")
    assert client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD}).status_code
    return client, csrf_token(client, "/compliance/")


@pytest.fixture(scope="module")
def callback_id(services) -> int:
    call = calls.register_call(services.engine, "CA" + secrets.token_hex(16), "f" * 64, "+4420555010", "en")
    record_handoff(
        services.engine,
        calls.id_of(call),
        reason="caller_asked",
        summary="a person, please",
        transcript_excerpt=None,
        customer_name=None,
        verified=False,
        consent_decision=None,
        language="en",
        dial_target="number:+4930123456789",
    )
    callback = request_callback(services.engine, calls.id_of(call))
    assert callback.id is not None
    return callback.id


# Each sign-in hashes a password, on purpose slowly: a quarter of the profile's examples.
@settings(max_examples=max(1, settings().max_examples // 4))
@given(username=field_value, password=field_value, next_path=field_value, with_token=st.booleans())
def test_any_sign_in_form_is_answered_without_a_500(app, username, password, next_path, with_token):
    # From an address of its own: its failures throttle it, not the signed-in admin of the other tests.
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    form = {"username": username, "password": password}
    if with_token:
        form["csrf_token"] = csrf_token(client, "/login")
    response = client.post("/login", query_string={"next": next_path}, data=form)
    assert response.status_code in (200, 400, 429), response.status_code


@given(
    path=st.sampled_from(["/compliance/", "/compliance/export", "/compliance/access-request"]),
    form=st.fixed_dictionaries({}, optional=dict.fromkeys(SEARCH_FIELDS, field_value)),
)
def test_any_compliance_form_is_answered_without_a_500(admin, path, form):
    client, token = admin
    response = client.post(path, data={**form, "csrf_token": token})
    assert response.status_code in (200, 302, 400), (path, form, response.status_code)


@given(note=field_value, which=st.one_of(st.just("real"), st.integers(0, 2**40).map(str)))
def test_any_callback_done_form_is_answered_without_a_500(admin, callback_id, note, which):
    client, token = admin
    target = callback_id if which == "real" else which
    response = client.post(f"/agent/callbacks/{target}/done", data={"note": note, "csrf_token": token})
    assert response.status_code in (200, 303, 400, 404), response.status_code


@given(
    path=st.sampled_from(["/admin/audit", "/dashboard/"]),
    query=st.dictionaries(st.sampled_from(["actor", "action", "from", "to", "outcome", "reason"]), field_value),
)
def test_any_filter_of_the_audit_log_and_dashboard_is_answered_without_a_500(admin, path, query):
    client, _ = admin
    response = client.get(path, query_string=query)
    assert response.status_code in (200, 400), (path, query, response.status_code)
