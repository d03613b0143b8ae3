from datetime import UTC
from pathlib import Path

import pytest

from voice_app.config import DEFAULT_CONFIG_PATH, ConfigError, load_settings

GOOD_ENV = {"TWILIO_AUTH_TOKEN": "t" * 32, "VOICE_APP_SECRET_KEY": "k" * 40}


def write_config(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    text = DEFAULT_CONFIG_PATH.read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_shipped_config_loads_and_paths_are_relative_to_it():
    settings = load_settings(DEFAULT_CONFIG_PATH, GOOD_ENV)
    assert settings.database_url == f"sqlite:///{DEFAULT_CONFIG_PATH.parent / 'var' / 'voice_app.db'}"
    assert settings.telephony.language_for("+4930555010") == "de"
    assert settings.telephony.language_for("+15550001111") == "en"
    assert settings.require_secrets() == (GOOD_ENV["TWILIO_AUTH_TOKEN"], GOOD_ENV["VOICE_APP_SECRET_KEY"])


def test_environment_overrides_the_file():
    env = {
        **GOOD_ENV,
        "VOICE_APP_PUBLIC_URL": "https://hotline.example.com/",
        "VOICE_APP_DATABASE_URL": "postgresql://db/x",
    }
    settings = load_settings(DEFAULT_CONFIG_PATH, env)
    assert settings.server.public_url == "https://hotline.example.com"
    assert settings.database_url == "postgresql://db/x"


def test_secrets_never_appear_in_repr():
    settings = load_settings(DEFAULT_CONFIG_PATH, GOOD_ENV)
    assert GOOD_ENV["TWILIO_AUTH_TOKEN"] not in repr(settings)
    assert GOOD_ENV["VOICE_APP_SECRET_KEY"] not in repr(settings)


@pytest.mark.parametrize(
    "replace, named",
    [
        (("port = 8080", 'port = "eighty"'), "server.port"),
        (("port = 8080", "port = 70000"), "server.port"),
        (("workers = 2", "workers = 0"), "server.workers"),
        (("threads = 16", 'threads = "many"'), "server.threads"),
        (("drain_seconds = 120", "drain_seconds = -1"), "server.drain_seconds"),
        (("drain_seconds = 120\n", ""), "server.drain_seconds"),
        (('agent_target = "number:+4930123456789"', 'agent_target = "number:030 123"'), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"', 'agent_target = "pstn:+4930123456789"'), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"', 'agent_target = "sip:pbx.example.com"'), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"', 'agent_target = "client:agent 7"'), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"', 'agent_target = "queue:"'), "telephony.agent_target"),
        (
            ('agent_target = "number:+4930123456789"', 'agent_target = "sip:' + "a" * 60 + '@pbx.example.com"'),
            "telephony.agent_target",
        ),
        (('agent_target = "number:+4930123456789"', "agent_target = 4930123456789"), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"\n', ""), "telephony.agent_target"),
        (('agent_target = "number:+4930123456789"', 'agent_number = "030 123"'), "telephony.agent_number"),
        (
            (
                'agent_target = "number:+4930123456789"',
                'agent_target = "number:+4930123456789"\nagent_number = "+4930123456789"',
            ),
            "telephony.agent_number",
        ),
        (("max_seconds = 120", "max_seconds = 5"), "voicemail.max_seconds"),
        (("max_seconds = 120", 'max_seconds = "long"'), "voicemail.max_seconds"),
        (("end_silence_seconds = 4", "end_silence_seconds = 0"), "voicemail.end_silence_seconds"),
        (("no_message_seconds = 10", "no_message_seconds = 600"), "voicemail.no_message_seconds"),
        (
            (
                "max_seconds = 120\n# Silence after the caller has spoken that ends the message, in seconds "
                "(pressing # ends it at once).\nend_silence_seconds = 4",
                "max_seconds = 10\nend_silence_seconds = 20",
            ),
            "voicemail.end_silence_seconds must be shorter",
        ),
        (('default_language = "en"', 'default_language = "fr"'), "telephony.default_language"),
        (("playback_lead_ms = 500", "playback_lead_ms = 10"), "telephony.playback_lead_ms"),
        (("playback_lead_ms = 500", "playback_lead_ms = 0.5"), "telephony.playback_lead_ms"),
        (('"+4930555010" = "de"', '"+4930555010" = "es"'), "telephony.number_languages"),
        (("vad_aggressiveness = 2", "vad_aggressiveness = 7"), "speech.vad_aggressiveness"),
        (("stt_batch_size = 1\n", "stt_batch_size = 0\n"), "speech.stt_batch_size"),
        (("stt_batch_size = 1\n", 'stt_batch_size = "8"\n'), "speech.stt_batch_size"),
        (("stt_workers = 2", "stt_workers = 0"), "speech.stt_workers"),
        (("cpu_threads = 1", "cpu_threads = -1"), "speech.cpu_threads"),
        (('encoder_window = "utterance"', 'encoder_window = "half"'), "speech.encoder_window"),
        (("encoder_floor_seconds = 10", "encoder_floor_seconds = 0.5"), "speech.encoder_floor_seconds"),
        (("encoder_floor_seconds = 10", 'encoder_floor_seconds = "10 s"'), "speech.encoder_floor_seconds"),
        (("encoder_margin_seconds = 1", "encoder_margin_seconds = -1"), "speech.encoder_margin_seconds"),
        (('end_of_turn = "fixed_silence"', 'end_of_turn = "model"'), "speech.end_of_turn"),
        (("turn_pause_ms = 200", "turn_pause_ms = 210"), "speech.turn_pause_ms"),
        (("turn_fallback_ms = 3000", "turn_fallback_ms = 60000"), "speech.turn_fallback_ms"),
        (("turn_complete_threshold = 0.5", "turn_complete_threshold = 1.5"), "speech.turn_complete_threshold"),
        (("short_answer_fallback_ms = 1000", "short_answer_fallback_ms = 5000"), "speech.short_answer_fallback_ms"),
        (("turn_pause_ms = 200", "turn_pause_ms = 1000"), "speech.short_answer_fallback_ms"),
        (("unfinished_words_silence_ms = 1300", "unfinished_words_silence_ms = 1310"), "speech.unfinished_words"),
        (("unfinished_words_silence_ms = 1300", "unfinished_words_silence_ms = 4000"), "speech.unfinished_words"),
        (("unfinished_sound_silence_ms = 700", "unfinished_sound_silence_ms = 100"), "speech.unfinished_sound"),
        (("silence_timeout_seconds = 6", "silence_timeout_seconds = true"), "dialogue.silence_timeout_seconds"),
        (('public_url = "http://127.0.0.1:8080"', 'public_url = "ftp://x"'), "server.public_url"),
        (('model = "base"\n', ""), "speech.model"),
        (('url = "sqlite:///var/voice_app.db"', 'url = "nonsense"'), "database.url"),
    ],
)
def test_a_bad_setting_is_named(tmp_path, replace, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(write_config(tmp_path, replace), GOOD_ENV)


def test_broken_toml_and_missing_file(tmp_path):
    broken = tmp_path / "config.toml"
    broken.write_text("[server\nhost=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, GOOD_ENV)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", GOOD_ENV)


@pytest.mark.parametrize(
    "env, named",
    [
        ({"VOICE_APP_SECRET_KEY": "short"}, "VOICE_APP_SECRET_KEY"),
        ({"TWILIO_ACCOUNT_SID": "ACnothex"}, "TWILIO_ACCOUNT_SID"),
        ({"VOICE_APP_PUBLIC_URL": "hotline.example.com"}, "VOICE_APP_PUBLIC_URL"),
    ],
)
def test_bad_environment_values_are_named(env, named):
    with pytest.raises(ConfigError, match=named):
        load_settings(DEFAULT_CONFIG_PATH, {**GOOD_ENV, **env})


def test_a_server_needs_both_secrets():
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_settings(DEFAULT_CONFIG_PATH, {}).require_secrets()
    with pytest.raises(ConfigError, match="VOICE_APP_SECRET_KEY"):
        load_settings(DEFAULT_CONFIG_PATH, {"TWILIO_AUTH_TOKEN": "x"}).require_secrets()


def test_an_outdated_database_is_named_at_start(tmp_path):
    import sqlite3

    from voice_app.database import SchemaOutdated, create_schema, make_engine

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE calls (id INTEGER PRIMARY KEY, call_sid TEXT)")
    with pytest.raises(SchemaOutdated, match=r"no migration revision.*run `voice-app db upgrade`"):
        create_schema(make_engine(f"sqlite:///{path}"))


def test_the_database_setting_is_named_as_it_was_set():
    assert load_settings(DEFAULT_CONFIG_PATH, GOOD_ENV).database_url_setting == "database.url"
    from_environment = load_settings(DEFAULT_CONFIG_PATH, {**GOOD_ENV, "VOICE_APP_DATABASE_URL": "sqlite:////tmp/x.db"})
    assert from_environment.database_url_setting == "VOICE_APP_DATABASE_URL"


def test_business_hours_are_read_and_checked(tmp_path):
    from datetime import datetime

    hours = load_settings(DEFAULT_CONFIG_PATH, GOOD_ENV).telephony.business_hours
    monday_noon_berlin = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert hours.open_at(monday_noon_berlin)
    assert not hours.open_at(datetime(2026, 11, 23, 19, 30, tzinfo=UTC))  # 20:30 in Berlin
    assert not hours.open_at(datetime(2026, 11, 22, 11, 0, tzinfo=UTC))  # a Sunday
    for replace, named in [
        (('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"'), "timezone"),
        (('days = ["mon", "tue", "wed", "thu", "fri", "sat"]', 'days = ["funday"]'), "days"),
        (('opens = "08:00"', 'opens = "8 o\'clock"'), "opens"),
        (('opens = "08:00"', 'opens = "21:00"'), "before closes"),
    ]:
        with pytest.raises(ConfigError, match=named):
            load_settings(write_config(tmp_path, replace), GOOD_ENV)


@pytest.mark.parametrize(
    "value, kind, address",
    [
        ('"number:+4930123456789"', "number", "+4930123456789"),
        ('"+4930123456789"', "number", "+4930123456789"),
        ('"sip:agents@pbx.example.com"', "sip", "sip:agents@pbx.example.com"),
        ('"client:agents"', "client", "agents"),
        ('"queue:hotline"', "queue", "hotline"),
    ],
)
def test_each_kind_of_transfer_target_is_read(tmp_path, value, kind, address):
    path = write_config(tmp_path, ('agent_target = "number:+4930123456789"', f"agent_target = {value}"))
    target = load_settings(path, GOOD_ENV).telephony.agent_target
    assert (target.kind, target.address) == (kind, address)


def test_the_older_agent_number_key_still_means_a_number(tmp_path):
    path = write_config(tmp_path, ('agent_target = "number:+4930123456789"', 'agent_number = "+4930987654321"'))
    target = load_settings(path, GOOD_ENV).telephony.agent_target
    assert (target.kind, target.label) == ("number", "+4930987654321")


def test_the_shipped_voicemail_limits():
    voicemail = load_settings(DEFAULT_CONFIG_PATH, GOOD_ENV).voicemail
    assert (voicemail.max_seconds, voicemail.end_silence_seconds, voicemail.no_message_seconds) == (120, 4, 10)
