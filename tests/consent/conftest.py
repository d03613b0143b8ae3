from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from consent_helpers import ANSWERED_AT, CONSENT_TABLES, PLAYED_AT, NoticeMap, engine_for, write_notice_files
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from consent.ledger import ConsentRecord, Decision, Method
from consent.notices import sync_notices
from tests.databases import run_sql


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = engine_for(database_url)
    SQLModel.metadata.create_all(engine, tables=[model.__table__ for model in CONSENT_TABLES])
    yield engine
    engine.dispose()


@pytest.fixture
def notice_dir(tmp_path: Path) -> Path:
    return write_notice_files(tmp_path / "notices")


@pytest.fixture
def notices(engine: Engine, notice_dir: Path) -> NoticeMap:
    with Session(engine) as session:
        return sync_notices(session, notice_dir)


@pytest.fixture
def make_record(notices: NoticeMap) -> Callable[..., ConsentRecord]:
    """A valid spoken consent in English; keyword arguments replace single fields."""

    def make(**overrides: object) -> ConsentRecord:
        fields: dict[str, object] = {
            "call_ref": "CA0001",
            "subject": "subj-7f3a",
            "notice": notices[("consent", "en")],
            "disclosure": notices[("disclosure", "en")],
            "language": "en",
            "decision": Decision.GRANTED,
            "method": Method.SPEECH,
            "recognised_answer": "yes please",
            "prompt_count": 1,
            "notice_played_at": PLAYED_AT,
            "answered_at": ANSWERED_AT,
        }
        fields.update(overrides)
        return ConsentRecord(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def raw_sql(database_url: str) -> Callable[..., None]:
    """Change the database behind the ledger's back, as an attacker or a bug would."""

    def run(statement: str, **parameters: object) -> None:
        run_sql(database_url, statement, **parameters)

    return run
