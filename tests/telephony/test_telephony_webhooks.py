"""Twilio's webhook forms: read strictly by the app, written the same way by the simulator."""

from __future__ import annotations

import pytest

from telephony import webhooks

CALL = "CA" + "a" * 32
BASE = webhooks.call_fields("AC" + "0" * 32, CALL, "+4915112345678", "+4930555010")


def test_an_incoming_call_names_caller_and_called_number():
    incoming = webhooks.parse_incoming_call(BASE)
    assert (incoming.call_sid, incoming.caller_number, incoming.called_number) == (
        CALL,
        "+4915112345678",
        "+4930555010",
    )


@pytest.mark.parametrize(
    "change, field",
    [
        ({"CallSid": "CA123"}, "CallSid"),
        ({"CallSid": ""}, "CallSid"),
        ({"From": ""}, "From"),
        ({"To": "9" * 65}, "To"),
    ],
)
def test_malformed_fields_are_refused_by_name(change, field):
    with pytest.raises(webhooks.FormError, match=f"missing or malformed field {field}"):
        webhooks.parse_incoming_call({**BASE, **change})


def test_a_withheld_or_overlong_caller_id_gives_no_number_to_call_back():
    assert webhooks.parse_call_request({**BASE, "From": ""}).caller_number is None
    assert webhooks.parse_call_request({**BASE, "From": "1" * 65}).caller_number is None
    assert webhooks.parse_call_request(BASE).caller_number == "+4915112345678"


@pytest.mark.parametrize("status", sorted(webhooks.DIAL_STATUSES))
def test_every_dial_status_the_simulator_can_send_is_read_back(status):
    result = webhooks.parse_dial_result({**BASE, **webhooks.dial_result_fields(status, "CA" + "b" * 32, 3)})
    assert result.status == status and result.connected == (status in {"completed", "answered"})


@pytest.mark.parametrize("result", sorted(webhooks.QUEUE_RESULTS))
def test_every_queue_result_is_read_back(result):
    left = webhooks.parse_queue_result({**BASE, **webhooks.queue_result_fields(result, "QU" + "c" * 32, 4)})
    assert left.result == result
    assert left.connected == (result in {"bridged", "bridging-in-process", "redirected-from-bridged"})
    assert left.caller_hung_up == (result == "hangup")


@pytest.mark.parametrize(
    "parse, field",
    [
        (webhooks.parse_dial_result, "DialCallStatus"),
        (webhooks.parse_queue_result, "QueueResult"),
        (webhooks.parse_status_callback, "CallStatus"),
    ],
)
def test_values_twilio_does_not_document_are_refused(parse, field):
    with pytest.raises(webhooks.FormError, match=f"unknown {field} 'sideways'"):
        parse({**BASE, field: "sideways"})


def test_status_callbacks_and_gathered_digits():
    status = webhooks.parse_status_callback({**BASE, **webhooks.status_callback_fields("completed", 12)})
    assert status.status == "completed" and status.call_sid == CALL
    assert webhooks.parse_status_callback({**BASE, "CallStatus": "ringing"}).status == "ringing"
    assert webhooks.parse_gather_result({**BASE, **webhooks.gather_result_fields("2")}).digits == "2"
    assert webhooks.parse_gather_result(BASE).digits == ""


def test_the_simulator_cannot_send_values_twilio_does_not():
    with pytest.raises(ValueError):
        webhooks.dial_result_fields("sideways", "CA" + "b" * 32, 0)
    with pytest.raises(ValueError):
        webhooks.queue_result_fields("sideways", "QU" + "c" * 32, 0)


def test_a_call_sid_for_logs_is_named_only_when_valid():
    assert webhooks.call_sid_of(BASE) == CALL
    assert webhooks.call_sid_of({"CallSid": "CA123"}) is None
