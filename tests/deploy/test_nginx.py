"""The shipped nginx site (deploy/nginx/voice-app.conf), for real: Debian's nginx on loopback with a throwaway
self-signed certificate, in front of two `voice-app serve` instances on one PostgreSQL database. Only the lines the
file marks PLACEHOLDER are changed. A whole simulated call goes through it over https and wss, signed for the https
public URL, and an agent signed in through it watches the live list."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, select

from consent.ledger import events_for_call, verify_chain
from telephony.caller_voice import caller_says
from telephony.simulator import Press, SimEvent, Speak, TwilioSimulator
from telephony.twiml import Dial, parse_twiml
from tests.agent_feed import AgentFeed
from tests.instances import SECRETS, running_instances
from tests.postgres import free_loopback_port
from voice_app import calls
from voice_app.config import PROJECT_ROOT
from voice_app.database import make_engine
from voice_app.handoff.models import Handoff
from voice_app.users.management import create_user

NGINX = Path("/usr/sbin/nginx")
SITE = PROJECT_ROOT / "deploy" / "nginx" / "voice-app.conf"
PLACEHOLDER = "# PLACEHOLDER"
CALLER = "+4915112345698"
LINE = "+4420555010"
AGENT, PASSWORD = "nginx-agent", "correct horse battery staple"
NGINX_START_SECONDS = 10
LIVE_WITHIN_SECONDS = 5
# The user Debian's nginx runs its workers as when started by root; they write the request buffers.
WORKER_USER = "www-data"

pytestmark = pytest.mark.skipif(
    not NGINX.exists() or not shutil.which("openssl"),
    reason="needs Debian's nginx and openssl (scripts/setup.sh --tests installs them)",
)


def render_site(replacements: dict[str, str]) -> str:
    """The shipped site with each old value replaced by the new one on the lines marked PLACEHOLDER, and nowhere
    else; every marked line must change and every replacement be used, so the test follows the shipped file."""
    unused = set(replacements)
    lines = []
    for line in SITE.read_text().splitlines():
        if PLACEHOLDER in line:
            directive, marker, note = line.partition(PLACEHOLDER)
            changed = directive
            for old, new in replacements.items():
                if old in changed:
                    changed = changed.replace(old, new)
                    unused.discard(old)
            assert changed != directive, f"a placeholder the test does not fill: {line.strip()}"
            line = changed + marker + note
        lines.append(line)
    assert not unused, f"not found on any PLACEHOLDER line: {sorted(unused)}"
    return "\n".join(lines) + "\n"


def make_certificate(folder: Path) -> tuple[Path, Path]:
    certificate, key = folder / "certificate.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return certificate, key


def nginx_command(folder: Path, *arguments: str) -> list[str]:
    # -e: nginx would otherwise open Debian's /var/log/nginx/error.log before reading the configuration.
    return [
        str(NGINX),
        "-p",
        f"{folder}/",
        "-c",
        str(folder / "nginx.conf"),
        "-e",
        str(folder / "error.log"),
        *arguments,
    ]


def write_main_config(folder: Path, site: str) -> None:
    """What /etc/nginx/nginx.conf is on a server: the process settings, with the site included in http."""
    (folder / "voice-app.conf").write_text(site)
    temp = folder / "temp"
    temp.mkdir()
    worker = ""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(WORKER_USER)
        os.chown(temp, entry.pw_uid, entry.pw_gid)
        worker = f"user {WORKER_USER};"
    (folder / "nginx.conf").write_text(f"""
{worker}
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    access_log off;
    include {folder}/voice-app.conf;
}}
""")


def wait_for_port(port: int, process: subprocess.Popen, error_log: Path) -> None:
    deadline = time.monotonic() + NGINX_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {error_log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port} within {NGINX_START_SECONDS} s")


@pytest.fixture(scope="module")
def proxied(postgres_server, tmp_path_factory):
    """Two instances behind nginx, whose public URL is nginx's https address; yields what the tests look at."""
    database_url = postgres_server.create_database("nginx")
    instances_folder = tmp_path_factory.mktemp("nginx-instances")
    # Not under pytest's folder: nginx's workers drop root and must reach their temporary folder.
    nginx_folder = Path(tempfile.mkdtemp(prefix="voice-app-nginx-"))
    nginx_folder.chmod(0o755)
    https_port, http_port = free_loopback_port(), free_loopback_port()
    public_url = f"https://127.0.0.1:{https_port}"
    certificate, key = make_certificate(nginx_folder)
    engine = make_engine(database_url)
    nginx = None
    try:
        with running_instances(["a", "b"], instances_folder, database_url, public_url) as (a, b):
            site = render_site(
                {
                    "listen 80;": f"listen 127.0.0.1:{http_port};",
                    "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
                    "hotline.example.com;": "127.0.0.1;",
                    "/etc/letsencrypt/live/hotline.example.com/fullchain.pem": str(certificate),
                    "/etc/letsencrypt/live/hotline.example.com/privkey.pem": str(key),
                    "/var/log/nginx/voice-app.access.log": str(nginx_folder / "access.log"),
                    "/var/log/nginx/voice-app.error.log": str(nginx_folder / "site-error.log"),
                    "127.0.0.1:8081": a.url.removeprefix("http://"),
                    "127.0.0.1:8082": b.url.removeprefix("http://"),
                }
            )
            write_main_config(nginx_folder, site)
            check = subprocess.run(nginx_command(nginx_folder, "-t"), capture_output=True, text=True, timeout=30)
            assert check.returncode == 0, check.stderr
            nginx = subprocess.Popen(nginx_command(nginx_folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(https_port, nginx, nginx_folder / "error.log")
            create_user(engine, AGENT, PASSWORD, "agent")
            yield {
                "a": a,
                "b": b,
                "engine": engine,
                "public_url": public_url,
                "http_port": http_port,
                "certificate": certificate,
                "folder": nginx_folder,
            }
    finally:
        if nginx is not None:
            nginx.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait(5)
        engine.dispose()
        shutil.rmtree(nginx_folder, ignore_errors=True)


@pytest.fixture(scope="module")
def call_through_nginx(proxied):
    moments: dict[str, float] = {}

    def note(event: SimEvent) -> None:
        moments.setdefault(event.kind, time.monotonic())

    simulator = TwilioSimulator(
        proxied["public_url"],
        SECRETS["TWILIO_AUTH_TOKEN"],
        from_number=CALLER,
        to_number=LINE,
        dial_outcome="completed",
        max_call_seconds=150,
        ca_file=proxied["certificate"],
        on_event=note,
    )
    script = [Speak(caller_says("Yes, I agree.", "en"), label="Yes, I agree."), Press("0")]
    with AgentFeed(proxied["public_url"], AGENT, PASSWORD, ca_file=str(proxied["certificate"])) as feed:
        result = simulator.place_call(script)
    return result, feed, moments


def test_the_shipped_site_has_only_marked_placeholders_and_passes_nginx_t(proxied):
    # The fixture ran `nginx -t` on it; here: nothing the operator must change is left unmarked.
    unmarked = [
        line
        for line in SITE.read_text().splitlines()
        if ("example.com" in line or "/etc/letsencrypt" in line or re.search(r"\b808[12]\b", line))
        and PLACEHOLDER not in line
        and not line.lstrip().startswith("#")
    ]
    assert not unmarked, unmarked


def test_a_whole_call_goes_through_nginx_over_https_and_wss(proxied, call_through_nginx):
    result, _, _ = call_through_nginx
    public_url = proxied["public_url"]
    assert result.outcome == "hangup" and result.dial_status == "completed", result.events
    stream_open = next(event.detail for event in result.events if event.kind == "stream_open")
    assert stream_open.startswith(public_url.replace("https://", "wss://") + "/twilio/media")
    assert result.whisper_twiml is not None, "the agent's whisper was fetched through nginx"
    engine = proxied["engine"]
    (consent,) = events_for_call(engine, result.call_sid)
    assert (consent.decision, consent.method) == ("granted", "speech")
    assert verify_chain(engine).ok
    call = calls.find_call(engine, result.call_sid)
    with Session(engine) as session:
        handoff = session.exec(select(Handoff).where(Handoff.call_id == call.id)).one()
    assert (handoff.reason, handoff.outcome) == ("caller_asked", "connected")
    assert handoff.agent_answered_at is not None
    assert call.status == "completed"


def test_both_instances_served_the_call_and_the_log_keeps_no_query_or_token(proxied, call_through_nginx):
    result, _, _ = call_through_nginx
    requests.get(
        proxied["public_url"] + "/healthz?probe=kept-out-of-the-log", verify=str(proxied["certificate"]), timeout=10
    )
    log = (proxied["folder"] / "access.log").read_text()
    served_by = set(re.findall(r"upstream=(\S+)", log)) - {"-"}
    assert served_by == {proxied["a"].url.removeprefix("http://"), proxied["b"].url.removeprefix("http://")}, log
    assert re.search(r'"GET /twilio/media HTTP/1.1" 101 ', log), log
    assert '"POST /twilio/whisper/TOKEN HTTP/1.1" 200' in log and '"GET /handoff-audio/TOKEN HTTP/1.1" 200' in log
    (dial,) = [verb for document in result.twiml for verb in parse_twiml(document) if isinstance(verb, Dial)]
    assert dial.whisper_url.rsplit("/", 1)[-1] not in log, "the whisper token"
    assert '"GET /healthz HTTP/1.1" 200' in log and "kept-out-of-the-log" not in log and "?" not in log


def test_the_agent_console_through_nginx_shows_the_transfer_live(proxied, call_through_nginx):
    result, feed, moments = call_through_nginx
    assert not feed.errors, feed.errors
    call = calls.find_call(proxied["engine"], result.call_sid)
    with Session(proxied["engine"]) as session:
        handoff = session.exec(select(Handoff).where(Handoff.call_id == call.id)).one()
    shown_at = feed.first_arrival(f"/agent/handoffs/{handoff.id}")
    assert shown_at is not None and shown_at <= moments["stream_closed"] + LIVE_WITHIN_SECONDS
    cookie_names = {cookie.name for cookie in feed.session.cookies}
    assert "__Host-voice_app_session" in cookie_names, "behind https the session cookie is Secure and host-only"


def test_plain_http_is_redirected_to_https(proxied):
    response = requests.post(
        f"http://127.0.0.1:{proxied['http_port']}/twilio/voice?x=1", allow_redirects=False, timeout=10
    )
    assert response.status_code == 301 and response.headers["Location"] == "https://127.0.0.1/twilio/voice?x=1"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_below_1_2_is_refused_and_1_3_is_spoken(proxied):
    port = int(proxied["public_url"].rsplit(":", 1)[1])
    modern = ssl.create_default_context(cafile=str(proxied["certificate"]))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.3"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(proxied["certificate"]))
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, pytest.raises(ssl.SSLError) as refused:
        old.wrap_socket(raw, server_hostname="127.0.0.1")
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", "nginx refused it, not our own client"


def test_a_body_larger_than_the_apps_limit_is_refused_by_nginx(proxied):
    response = requests.post(
        proxied["public_url"] + "/twilio/voice",
        data={"Body": "x" * (64 * 1024 + 1)},
        verify=str(proxied["certificate"]),
        timeout=10,
    )
    assert response.status_code == 413
    assert response.headers.get("Server") == "nginx", "without a version number"
