"""OutboundPlayer: real-time pacing, marks after their audio, clear, and send failures."""

import json
import threading
import time
from pathlib import Path

import pytest

from telephony.audio import float_to_phone_mulaw, load_audio_file
from telephony.outbound import OutboundPlayer

STREAM = "MZ" + "a" * 32
FRAME = 0.02
LEAD = 0.1
# Thread wake-ups on a loaded test machine can be late by a few milliseconds; never early.
LATE_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def one_second_of_speech() -> bytes:
    samples, rate = load_audio_file(Path("/work/shared/data/audio/one_two_three.wav"))
    return float_to_phone_mulaw(samples, rate)[:8000]


class Recorder:
    """A fake websocket send that keeps each message with the moment it was sent."""

    def __init__(self, fail_on_call: int | None = None, delay: float = 0.0, stall: tuple[int, float] | None = None):
        self.sent: list[tuple[float, dict]] = []
        self.condition = threading.Condition()
        self.fail_on_call = fail_on_call
        self.delay = delay
        self.stall = stall  # (call number, seconds): that one call blocks, as a starved sender thread would

    def __call__(self, message: str) -> None:
        if self.delay:
            time.sleep(self.delay)
        if self.stall is not None and len(self.sent) + 1 == self.stall[0]:
            time.sleep(self.stall[1])
        with self.condition:
            if self.fail_on_call is not None and len(self.sent) + 1 == self.fail_on_call:
                raise ConnectionError("socket gone")
            self.sent.append((time.monotonic(), json.loads(message)))
            self.condition.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0) -> None:
        with self.condition:
            assert self.condition.wait_for(lambda: predicate(self.sent), timeout), self.sent[-3:]

    def wait_for_mark(self, name: str) -> None:
        self.wait_for(lambda sent: any(m["event"] == "mark" and m["mark"]["name"] == name for _, m in sent))

    def events(self) -> list[str]:
        return [message["event"] for _, message in self.sent]


def test_one_second_is_sent_in_real_time_never_more_than_lead_ahead(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM, lead_ms=100)
    started = time.monotonic()
    player.play(one_second_of_speech, "prompt-1")
    send.wait_for_mark("prompt-1")
    player.close()

    media = [(at - started, m) for at, m in send.sent if m["event"] == "media"]
    assert len(media) == 50
    for index, (sent_at, message) in enumerate(media):
        audio_end = (index + 1) * FRAME
        assert audio_end - sent_at <= LEAD + 0.005, f"frame {index} was {audio_end - sent_at:.3f} s ahead"
        assert sent_at <= max(0.0, audio_end - LEAD) + LATE_TOLERANCE, f"frame {index} late at {sent_at:.3f} s"
        assert message["streamSid"] == STREAM
    # The first lead's worth goes at once; the whole second takes one second minus the lead.
    assert media[4][0] < 0.02
    assert media[-1][0] == pytest.approx(1.0 - LEAD, abs=LATE_TOLERANCE)
    assert send.events()[-1] == "mark"
    assert send.sent[-1][1]["mark"]["name"] == "prompt-1"


def test_marks_follow_their_own_audio_in_order(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    player.play(one_second_of_speech[:1600], "first")  # 10 frames
    player.play(one_second_of_speech[:800], "second")  # 5 frames
    send.wait_for_mark("second")
    player.close()

    assert send.events() == ["media"] * 10 + ["mark"] + ["media"] * 5 + ["mark"]


def test_clock_restarts_when_the_queue_runs_dry(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    player.play(one_second_of_speech[:1600], "a")
    send.wait_for_mark("a")
    time.sleep(0.4)  # everything sent has long finished playing
    resumed = time.monotonic()
    player.play(one_second_of_speech[:1600], "b")
    send.wait_for_mark("b")
    player.close()

    second_batch = [at - resumed for at, m in send.sent if m["event"] == "media"][10:]
    # A fresh stretch: the lead goes out at once again (no 0.4 s backlog burst, no leftover delay).
    assert second_batch[4] < 0.02
    assert second_batch[-1] == pytest.approx(10 * FRAME - LEAD, abs=LATE_TOLERANCE)


def test_clear_drops_queued_audio_and_returns_the_marks_never_sent(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    player.play(one_second_of_speech, "long")
    player.play(one_second_of_speech[:800], "after")
    time.sleep(0.3)
    assert player.queued_seconds == pytest.approx(1.1 - 0.3 - LEAD, abs=0.05)

    dropped = player.clear()

    assert dropped == ["long", "after"]
    assert player.queued_seconds == 0
    send.wait_for(lambda sent: sent and sent[-1][1]["event"] == "clear")
    time.sleep(0.1)
    assert send.events()[-1] == "clear", "nothing queued before the clear is sent after it"
    frames_sent = send.events().count("media")
    assert 15 <= frames_sent <= 25  # about 0.3 s plus the lead, not the 1.1 s queued
    assert send.sent[-1][1] == {"event": "clear", "streamSid": STREAM}

    player.play(one_second_of_speech[:800], "fresh")
    send.wait_for_mark("fresh")
    player.close()
    assert send.events()[-6:] == ["media"] * 5 + ["mark"]


def test_on_start_is_told_once_right_after_the_first_frame_of_its_audio_is_sent(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    started: list[tuple[str, float, int]] = []

    def started_playing(name):
        return lambda: started.append((name, time.monotonic(), len(send.sent)))

    player.play(one_second_of_speech[:1600], "first", on_start=started_playing("first"))  # 10 frames
    player.play(one_second_of_speech[:1600], "second", on_start=started_playing("second"))
    send.wait_for_mark("second")
    player.close()

    assert [name for name, _, _ in started] == ["first", "second"]
    media_indexes = [index for index, (_, message) in enumerate(send.sent) if message["event"] == "media"]
    for (_, at, sent_count), first_frame in zip(started, (media_indexes[0], media_indexes[10]), strict=True):
        assert sent_count == first_frame + 1, "called after its first frame, before the next message"
        assert 0 <= at - send.sent[first_frame][0] < LATE_TOLERANCE


def test_on_start_is_not_called_for_audio_cleared_before_it_was_sent(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    told: list[str] = []
    player.play(one_second_of_speech, "long")
    player.play(one_second_of_speech[:800], "dropped", on_start=lambda: told.append("dropped"))
    player.clear()
    player.play(b"", "silent", on_start=lambda: told.append("silent"))
    player.play(one_second_of_speech[:800], "kept", on_start=lambda: 1 / 0)  # a failing listener stops nothing
    send.wait_for_mark("kept")
    player.close()
    assert told == []
    assert send.events()[-6:] == ["media"] * 5 + ["mark"]


def test_clear_with_nothing_queued_still_tells_twilio_and_drops_nothing():
    send = Recorder()
    player = OutboundPlayer(send, STREAM)

    assert player.clear() == []
    send.wait_for(lambda sent: len(sent) == 1)
    player.close()
    assert send.events() == ["clear"]


def longest_gap_in_playback(sent: list[tuple[float, dict]]) -> float:
    """The longest silence a caller hears inside the audio, if Twilio plays each frame once it has arrived and
    the frame before it has played."""
    playing_until: float | None = None
    longest = 0.0
    for arrived, message in sent:
        if message["event"] != "media":
            continue
        starts = arrived if playing_until is None else max(arrived, playing_until)
        if playing_until is not None:
            longest = max(longest, starts - playing_until)
        playing_until = starts + FRAME
    return longest


@pytest.mark.parametrize(("lead_ms", "gap_expected"), [(100, True), (500, False)])
def test_a_sender_stall_shorter_than_the_lead_leaves_no_gap_in_what_the_caller_hears(
    one_second_of_speech, lead_ms, gap_expected
):
    send = Recorder(stall=(30, 0.3))
    player = OutboundPlayer(send, STREAM, lead_ms=lead_ms)
    player.play(one_second_of_speech, "stalled")
    send.wait_for_mark("stalled")
    player.close()

    gap = longest_gap_in_playback(send.sent)
    if gap_expected:
        assert gap >= 0.3 - lead_ms / 1000 - LATE_TOLERANCE
    else:
        assert gap <= LATE_TOLERANCE


def test_play_and_clear_never_wait_for_a_slow_socket(one_second_of_speech):
    send = Recorder(delay=0.2)
    player = OutboundPlayer(send, STREAM)

    started = time.monotonic()
    player.play(one_second_of_speech, "slow")
    player.clear()
    player.play(one_second_of_speech, "again")

    assert time.monotonic() - started < 0.05
    player.close(timeout=1)


def test_send_failure_stops_the_player_and_is_reported(one_second_of_speech):
    send = Recorder(fail_on_call=3)
    player = OutboundPlayer(send, STREAM)
    player.play(one_second_of_speech, "doomed")

    deadline = time.monotonic() + 2
    while player.failed is None and time.monotonic() < deadline:
        time.sleep(0.01)

    assert isinstance(player.failed, ConnectionError)
    assert player.queued_seconds == 0
    player.play(one_second_of_speech, "ignored")
    assert player.queued_seconds == 0
    time.sleep(0.1)
    assert len(send.sent) == 2
    assert player.clear() == []
    player.close()


def test_close_stops_the_thread_and_later_audio_is_ignored(one_second_of_speech):
    send = Recorder()
    player = OutboundPlayer(send, STREAM)
    player.play(one_second_of_speech, "cut")
    player.close()

    assert not any(thread.name == f"outbound-{STREAM}" and thread.is_alive() for thread in threading.enumerate())
    sent_before = len(send.sent)
    player.play(one_second_of_speech, "late")
    time.sleep(0.1)
    assert len(send.sent) == sent_before


@pytest.mark.parametrize(
    "kwargs", [{"stream_sid": ""}, {"stream_sid": STREAM, "lead_ms": 10}, {"stream_sid": STREAM, "lead_ms": 1.5}]
)
def test_bad_configuration_is_refused(kwargs):
    with pytest.raises(ValueError):
        OutboundPlayer(Recorder(), **kwargs)


def test_bad_audio_or_mark_is_refused():
    player = OutboundPlayer(Recorder(), STREAM)
    with pytest.raises(TypeError):
        player.play("not audio", "m")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        player.play(b"\xff" * 160, "")
    player.close()
