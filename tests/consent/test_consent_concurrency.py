"""Concurrent writers on one SQLite file (threads, separate engines, separate processes) and two processes on one
PostgreSQL database."""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from consent_helpers import CONSENT_TABLES, NoticeMap, engine_for, make_engine
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, func, select

from consent.ledger import ChainVerification, ConsentRecord, append_event, verify_chain
from consent.models import ConsentChainHead, ConsentEvent, NoticeVersion
from consent.notices import sync_notices

MakeRecord = Callable[..., ConsentRecord]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "t.db"


@pytest.fixture
def database_url(db_path: Path) -> str:
    """These tests are about SQLite's own locking modes, so they stay on a SQLite file; the same guarantee
    on PostgreSQL is test_two_processes_append_one_chain_on_postgresql below."""
    return f"sqlite:///{db_path}"


@pytest.fixture(params=[False, True], ids=["driver-begin", "explicit-begin"])
def explicit_begin(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start all workers at the same moment; return what they raised."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: Callable[[], None]) -> None:
        try:
            barrier.wait()
            worker()
        except BaseException as error:  # reported by the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _appender(engine: Engine, make_record: MakeRecord, name: str, count: int) -> Callable[[], None]:
    def append_all() -> None:
        for i in range(count):
            append_event(engine, make_record(call_ref=f"{name}-{i}"))

    return append_all


def _assert_gapless_verified_chain(engine: Engine, expected: int) -> None:
    with Session(engine) as session:
        seqs = list(session.exec(select(ConsentEvent.seq).order_by(col(ConsentEvent.seq))))
        head = session.get(ConsentChainHead, 1)
    assert seqs == list(range(1, expected + 1))
    assert head is not None and head.last_seq == expected
    assert verify_chain(engine) == ChainVerification(ok=True, checked=expected)


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_four_threads_append_one_gapless_chain(
    engine: Engine, db_path: Path, make_record: MakeRecord, journal_mode: str, explicit_begin: bool
) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(f"PRAGMA journal_mode={journal_mode}")
    shared = make_engine(db_path, explicit_begin)
    try:
        errors = _run_together([_appender(shared, make_record, f"T{t}", 25) for t in range(4)])
    finally:
        shared.dispose()

    assert errors == []
    _assert_gapless_verified_chain(engine, 100)


def test_two_engines_on_one_file_append_one_chain(
    db_path: Path, engine: Engine, make_record: MakeRecord, explicit_begin: bool
) -> None:
    # Two engines share no pool and no Python lock, like two server instances.
    first, second = make_engine(db_path, explicit_begin), make_engine(db_path, explicit_begin)
    try:
        errors = _run_together(
            [_appender(e, make_record, f"{n}{t}", 25) for n, e in (("A", first), ("B", second)) for t in range(2)]
        )
    finally:
        first.dispose()
        second.dispose()

    assert errors == []
    _assert_gapless_verified_chain(engine, 100)


def test_first_appends_create_the_head_once(
    db_path: Path, engine: Engine, make_record: MakeRecord, explicit_begin: bool
) -> None:
    engines = [make_engine(db_path, explicit_begin) for _ in range(4)]
    try:
        errors = _run_together([_appender(e, make_record, f"E{i}", 1) for i, e in enumerate(engines)])
    finally:
        for own_engine in engines:
            own_engine.dispose()

    assert errors == []
    _assert_gapless_verified_chain(engine, 4)


def test_verify_while_appending_never_reports_a_false_break(
    db_path: Path, engine: Engine, make_record: MakeRecord, explicit_begin: bool
) -> None:
    shared = make_engine(db_path, explicit_begin)
    writing = threading.Event()
    writing.set()
    results: list[ChainVerification] = []

    def write() -> None:
        try:
            _appender(shared, make_record, "W", 150)()
        finally:
            writing.clear()

    def verify_repeatedly() -> None:
        while writing.is_set():
            results.append(verify_chain(shared))

    try:
        errors = _run_together([write, verify_repeatedly])
    finally:
        shared.dispose()

    assert errors == []
    assert results, "the verifier never ran"
    assert [r for r in results if not r.ok] == []
    _assert_gapless_verified_chain(engine, 150)


CHILD_PROCESS = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlmodel import Session, create_engine

from consent.ledger import ConsentRecord, Decision, Method, append_event
from consent.notices import sync_notices

db_path, notice_dir, name, count = sys.argv[1:]
engine = create_engine(f"sqlite:///{db_path}", connect_args={"timeout": 30})
with Session(engine) as session:
    notices = sync_notices(session, Path(notice_dir))
for i in range(int(count)):
    played = datetime.now(timezone.utc)
    append_event(engine, ConsentRecord(
        call_ref=f"{name}-{i}", subject=f"subject-{name}", notice=notices[("consent", "de")],
        disclosure=notices[("disclosure", "de")], language="de", decision=Decision.GRANTED,
        method=Method.KEYPAD, recognised_answer=None, prompt_count=1,
        notice_played_at=played, answered_at=played + timedelta(seconds=2),
    ))
"""


def test_separate_processes_sync_and_append_one_chain(
    db_path: Path, engine: Engine, notice_dir: Path, notices: NoticeMap
) -> None:
    # The children import the repo's packages the same way this test process does.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD_PROCESS, str(db_path), str(notice_dir), f"P{p}", "20"],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(3)
    ]
    outcomes = [(child.communicate(timeout=120)[1], child.returncode) for child in children]

    assert [stderr for stderr, returncode in outcomes if returncode != 0] == []
    _assert_gapless_verified_chain(engine, 60)
    with Session(engine) as session:
        used_notices = set(session.exec(select(ConsentEvent.notice_version_id)))
        stored_versions = session.exec(select(func.count()).select_from(NoticeVersion)).one()
    assert used_notices == {notices[("consent", "de")].id}
    assert stored_versions == 4


POSTGRES_APPENDER = """
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlmodel import Session, create_engine

from consent.ledger import ConsentRecord, Decision, Method, append_event
from consent.notices import sync_notices

database_url, notice_dir, name, count, meeting_point = sys.argv[1:]
engine = create_engine(database_url)
with Session(engine) as session:
    notices = sync_notices(session, Path(notice_dir))
records = []
for i in range(int(count)):
    played = datetime.now(timezone.utc)
    records.append(ConsentRecord(
        call_ref=f"{name}-{i}", subject=f"subject-{name}", notice=notices[("consent", "en")],
        disclosure=notices[("disclosure", "en")], language="en", decision=Decision.GRANTED,
        method=Method.KEYPAD, recognised_answer=None, prompt_count=1,
        notice_played_at=played, answered_at=played + timedelta(seconds=2),
    ))
engine.connect().close()  # connected before the start, so connecting does not stagger the two writers
(Path(meeting_point) / name).touch()
while not (Path(meeting_point) / "go").exists():
    time.sleep(0.001)
for record in records:
    append_event(engine, record)
"""


def test_two_processes_append_one_chain_on_postgresql(postgres_server, notice_dir: Path, tmp_path: Path) -> None:
    """Two server instances recording consent at the same moment on one PostgreSQL database: the chain-head
    row lock makes them take turns, so there is one chain (no fork, no gap, no duplicate)."""
    database_url = postgres_server.create_database()
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine, tables=[model.__table__ for model in CONSENT_TABLES])
    with Session(engine) as session:
        sync_notices(session, notice_dir)
    # Each child says it is ready with a file; once both are, one "go" file releases them together.
    meeting_point = tmp_path / "meeting-point"
    meeting_point.mkdir()
    names = ("instance-A", "instance-B")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", POSTGRES_APPENDER, database_url, str(notice_dir), name, "100", str(meeting_point)],
            env=environment,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    deadline = time.monotonic() + 120
    try:
        while not all((meeting_point / name).exists() for name in names):
            assert time.monotonic() < deadline and all(child.poll() is None for child in children), "a child died"
            time.sleep(0.01)
    finally:
        (meeting_point / "go").touch()  # also releases a waiting child when the other one failed
    outcomes = [(child.communicate(timeout=180)[1], child.returncode) for child in children]

    try:
        assert [stderr for stderr, returncode in outcomes if returncode != 0] == []
        with Session(engine) as session:
            events = list(session.exec(select(ConsentEvent).order_by(col(ConsentEvent.seq))))
        assert [event.seq for event in events] == list(range(1, 201))
        assert [event.prev_hash for event in events[1:]] == [event.event_hash for event in events[:-1]]
        writers = [event.call_ref.split("-")[1] for event in events]
        assert writers.count("A") == writers.count("B") == 100
        assert writers[:100] != ["A"] * 100 and writers[:100] != ["B"] * 100, "the writers did not overlap"
        _assert_gapless_verified_chain(engine, 200)
    finally:
        engine.dispose()
