"""Command-line arguments that are wrong get a clear message and a usage exit code, before any call is placed."""

import pytest
from click.testing import CliRunner

from voice_app.cli import main


@pytest.mark.parametrize(
    "turn, message",
    [
        ("teleport:mars", "a turn is 'say:TEXT'"),
        ("press:12a", "a turn is 'say:TEXT'"),
        ("wait:-3", "a turn is 'say:TEXT'"),
        ("wait:500", "a turn is 'say:TEXT'"),
        ("audio:/no/such/file.wav", "cannot read audio file"),
    ],
)
def test_bad_caller_turns_are_refused(turn, message):
    result = CliRunner().invoke(
        main, ["call", "--url", "http://127.0.0.1:9", turn], env={"TWILIO_AUTH_TOKEN": "t" * 32}
    )
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_calling_a_running_server_needs_its_auth_token():
    result = CliRunner().invoke(main, ["call", "--url", "http://127.0.0.1:9", "say:hi"], env={"TWILIO_AUTH_TOKEN": ""})
    assert result.exit_code == 1 and "TWILIO_AUTH_TOKEN" in result.output


def test_a_broken_config_file_is_named(tmp_path):
    broken = tmp_path / "config.toml"
    broken.write_text("[server\n")
    result = CliRunner().invoke(main, ["--config", str(broken), "consent", "verify"])
    assert result.exit_code == 1 and "not valid TOML" in result.output


@pytest.mark.parametrize(
    "options, message",
    [
        (["serve", "--workers", "0"], "--workers"),
        (["serve", "--threads", "1000"], "--threads"),
        (["serve", "--port", "0"], "--port"),
        (["serve", "--host", " "], "--host"),
        (["--log-format", "xml", "serve"], "--log-format"),
    ],
)
def test_bad_server_options_are_named(options, message):
    result = CliRunner().invoke(main, options, env={"TWILIO_AUTH_TOKEN": "t" * 32, "VOICE_APP_SECRET_KEY": "k" * 40})
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_caller_voice_that_cannot_be_rendered_is_named_before_any_call(tmp_path):
    # No espeak-ng on the PATH: the simulated caller cannot speak, and no call is placed to the (closed) port.
    result = CliRunner().invoke(
        main,
        ["call", "--url", "http://127.0.0.1:9", "say:a phrase only this test says"],
        env={"TWILIO_AUTH_TOKEN": "t" * 32, "PATH": str(tmp_path)},
    )
    assert result.exit_code == 1, result.output
    assert "espeak-ng is not installed" in result.output
