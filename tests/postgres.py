"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary data folder, a free loopback port,
run as an unprivileged user, stopped (and its folder deleted) at the end. CI machines run no database server."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "hotline"
SERVER_TIME_ZONE = "America/New_York"
UNPRIVILEGED_USERS = ("postgres", "nobody")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed (`scripts/setup.sh --tests` installs them)."""


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL is not installed: run scripts/setup.sh --tests (Debian package postgresql)"
        )
    return Path(candidates[-1]).parent


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayPostgres:
    """One server; `create_database()` gives each test a database of its own."""

    def __init__(self) -> None:
        self.bin_dir = _bin_dir()
        self.folder = Path(tempfile.mkdtemp(prefix="voice-app-postgres-"))
        self.data_dir = self.folder / "data"
        self.log_file = self.folder / "server.log"
        self.port = free_loopback_port()
        self._run_as: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = next(name for name in UNPRIVILEGED_USERS if _user_exists(name))
            os.chown(self.folder, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
            self._run_as = ["runuser", "-u", user, "--"]

    def _run(self, *command: str) -> None:
        result = subprocess.run([*self._run_as, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()} {result.stdout.strip()} {log}")

    def initialise(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        # Durability settings off: a test server's data is thrown away, and fsync on a shared disk is slow.
        # The session time zone is not UTC on purpose: production servers often run in local time, and the app
        # must not depend on the server's zone for what it stores or counts.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=400 "
            f"-c timezone={SERVER_TIME_ZONE}"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        return self._create(prefix, template=None)

    def clone_database(self, source_url: str, prefix: str = "clone") -> str:
        """A copy of the database at `source_url`; returns its URL. PostgreSQL copies a template only while
        nobody is connected to it, so dispose every engine on the source first."""
        return self._create(prefix, template=source_url.rsplit("/", 1)[-1])

    def _create(self, prefix: str, template: str | None) -> str:
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(statement)
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def start_throwaway_postgres() -> ThrowawayPostgres:
    server = ThrowawayPostgres()
    try:
        server.initialise()
        server.start()
    except BaseException:
        shutil.rmtree(server.folder, ignore_errors=True)
        raise
    return server
