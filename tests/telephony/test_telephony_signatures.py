"""Twilio request signatures over the configured public URL."""

import pytest

from telephony.signatures import SignatureChecker, public_url, websocket_url

TOKEN = "12345678901234567890123456789012"
PARAMS = {"CallSid": "CA" + "1" * 32, "From": "+4915112345678", "To": "+4930555010", "CallStatus": "ringing"}
URL = "https://hotline.example.com/twilio/voice"


def test_signature_made_by_twilio_rules_is_valid():
    checker = SignatureChecker(TOKEN)
    signature = checker.sign(URL, PARAMS)

    assert checker.is_valid(URL, PARAMS, signature)


def test_known_signature_from_twilio_documentation_algorithm():
    # HMAC-SHA1 over URL + sorted key/value pairs, base64: computed independently here.
    import base64
    import hashlib
    import hmac

    payload = URL + "".join(key + PARAMS[key] for key in sorted(PARAMS))
    expected = base64.b64encode(hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()

    assert SignatureChecker(TOKEN).sign(URL, PARAMS) == expected


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_missing_or_wrong_signature_is_invalid(signature):
    assert not SignatureChecker(TOKEN).is_valid(URL, PARAMS, signature)


def test_signature_does_not_transfer_to_another_url_token_or_parameters():
    signature = SignatureChecker(TOKEN).sign(URL, PARAMS)

    assert not SignatureChecker(TOKEN).is_valid("https://hotline.example.com/twilio/status", PARAMS, signature)
    assert not SignatureChecker("another-token").is_valid(URL, PARAMS, signature)
    assert not SignatureChecker(TOKEN).is_valid(URL, {**PARAMS, "From": "+4915199999999"}, signature)


def test_websocket_handshake_signature_covers_the_wss_url_with_no_parameters():
    checker = SignatureChecker(TOKEN)
    stream_url = websocket_url("https://hotline.example.com", "/twilio/media")
    signature = checker.sign(stream_url, {})

    assert checker.is_valid(stream_url, {}, signature)
    assert not checker.is_valid("wss://evil.example.com/twilio/media", {}, signature)


def test_empty_auth_token_is_refused():
    with pytest.raises(ValueError, match="auth token"):
        SignatureChecker("")


@pytest.mark.parametrize(
    "base, path, query, expected",
    [
        ("https://hotline.example.com", "/twilio/voice", None, "https://hotline.example.com/twilio/voice"),
        ("https://hotline.example.com/", "/twilio/voice", None, "https://hotline.example.com/twilio/voice"),
        ("https://example.com/hotline/", "/twilio/voice", None, "https://example.com/hotline/twilio/voice"),
        (
            "http://127.0.0.1:5000",
            "/twilio/after",
            {"call": "CA1", "x": "a b"},
            "http://127.0.0.1:5000/twilio/after?call=CA1&x=a+b",
        ),
    ],
)
def test_public_url_joins_base_and_path(base, path, query, expected):
    assert public_url(base, path, query) == expected


def test_websocket_url_switches_scheme():
    assert websocket_url("https://example.com/hotline", "/twilio/media") == "wss://example.com/hotline/twilio/media"
    assert websocket_url("http://127.0.0.1:5000", "/twilio/media") == "ws://127.0.0.1:5000/twilio/media"


@pytest.mark.parametrize(
    "base, path",
    [
        ("hotline.example.com", "/twilio/voice"),
        ("ftp://example.com", "/twilio/voice"),
        ("https://example.com?x=1", "/twilio/voice"),
        ("https://example.com", "twilio/voice"),
        ("https://example.com", "/twilio/voice?x=1"),
        (None, "/twilio/voice"),
    ],
)
def test_bad_public_url_configuration_is_refused(base, path):
    with pytest.raises(ValueError):
        public_url(base, path)
