import threading
from pathlib import Path

import pytest
from consent_helpers import NOTICE_TEXTS, engine_for, write_notice_files
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from consent.digests import sha256_hex
from consent.models import NoticeVersion
from consent.notices import InvalidNoticeFile, InvalidNoticeKey, current_notice, sync_notices


def _all_versions(engine: Engine) -> list[tuple[str, str, int, str, str]]:
    with Session(engine) as session:
        rows = session.exec(select(NoticeVersion).order_by(col(NoticeVersion.id)))
        return [(n.kind, n.language, n.version, n.text, n.sha256) for n in rows]


def _sync(engine: Engine, directory: Path) -> dict[tuple[str, str], NoticeVersion]:
    with Session(engine) as session:
        return sync_notices(session, directory)


def test_first_sync_stores_version_1_of_every_notice(engine: Engine, notice_dir: Path) -> None:
    synced = _sync(engine, notice_dir)

    assert set(synced) == set(NOTICE_TEXTS)
    for key, notice in synced.items():
        assert (notice.kind, notice.language) == key
        assert notice.version == 1
        assert notice.text == NOTICE_TEXTS[key]
        assert notice.sha256 == sha256_hex(NOTICE_TEXTS[key])
        assert notice.valid_from.tzinfo is not None
    assert len(_all_versions(engine)) == 4


def test_unchanged_text_keeps_the_same_version(engine: Engine, notice_dir: Path) -> None:
    first = _sync(engine, notice_dir)
    second = _sync(engine, notice_dir)

    assert {key: n.id for key, n in second.items()} == {key: n.id for key, n in first.items()}
    assert len(_all_versions(engine)) == 4


def test_line_endings_and_trailing_whitespace_do_not_make_a_new_version(engine: Engine, tmp_path: Path) -> None:
    _sync(engine, write_notice_files(tmp_path / "a", {**NOTICE_TEXTS, ("consent", "en"): "Line one.\nLine two."}))
    resynced = _sync(
        engine,
        write_notice_files(tmp_path / "b", {**NOTICE_TEXTS, ("consent", "en"): "Line one.  \r\nLine two.\t\r\n\r\n"}),
    )

    assert resynced[("consent", "en")].version == 1
    assert resynced[("consent", "en")].text == "Line one.\nLine two."


def test_changed_text_adds_version_2_and_leaves_version_1_alone(engine: Engine, tmp_path: Path) -> None:
    original = _sync(engine, write_notice_files(tmp_path / "v1"))
    before = _all_versions(engine)

    changed = _sync(engine, write_notice_files(tmp_path / "v2", {**NOTICE_TEXTS, ("consent", "de"): "Neuer Text?"}))

    assert changed[("consent", "de")].version == 2
    assert changed[("consent", "de")].text == "Neuer Text?"
    assert changed[("consent", "de")].valid_from > original[("consent", "de")].valid_from
    assert changed[("consent", "en")].id == original[("consent", "en")].id
    assert _all_versions(engine)[:4] == before
    with Session(engine) as session:
        assert current_notice(session, "consent", "de").version == 2
        assert current_notice(session, "consent", "en").version == 1


def test_returned_versions_stay_readable_after_the_session_commits_and_closes(engine: Engine, notice_dir: Path) -> None:
    with Session(engine) as session:
        synced = sync_notices(session, notice_dir)
        session.commit()

    assert synced[("disclosure", "de")].text == NOTICE_TEXTS[("disclosure", "de")]


@pytest.mark.parametrize("name", ["consent.fr.txt", "greeting.en.txt", "consent.en.md", "consent.en.txt~", "README"])
def test_unexpected_file_is_rejected_by_name(engine: Engine, notice_dir: Path, name: str) -> None:
    (notice_dir / name).write_text("something", encoding="utf-8")

    with pytest.raises(InvalidNoticeFile, match=name.replace(".", r"\.")):
        _sync(engine, notice_dir)
    assert _all_versions(engine) == []


@pytest.mark.parametrize("content", ["", "  \n\t\r\n"])
def test_empty_notice_is_rejected(engine: Engine, notice_dir: Path, content: str) -> None:
    (notice_dir / "consent.en.txt").write_text(content, encoding="utf-8")

    with pytest.raises(InvalidNoticeFile, match=r"consent\.en\.txt is empty"):
        _sync(engine, notice_dir)


def test_missing_notice_is_rejected(engine: Engine, notice_dir: Path) -> None:
    (notice_dir / "disclosure.de.txt").unlink()

    with pytest.raises(InvalidNoticeFile, match=r"disclosure\.de\.txt"):
        _sync(engine, notice_dir)


def test_non_utf8_notice_is_rejected(engine: Engine, notice_dir: Path) -> None:
    (notice_dir / "consent.de.txt").write_bytes("Dürfen wir?".encode("latin-1"))

    with pytest.raises(InvalidNoticeFile, match=r"consent\.de\.txt is not valid UTF-8"):
        _sync(engine, notice_dir)


def test_missing_directory_is_rejected(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        _sync(engine, tmp_path / "nowhere")


def test_current_notice_without_any_version_raises_lookup_error(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(LookupError, match="consent"):
        current_notice(session, "consent", "en")


@pytest.mark.parametrize(("kind", "language"), [("greeting", "en"), ("consent", "fr")])
def test_current_notice_rejects_unknown_kind_or_language(engine: Engine, kind: str, language: str) -> None:
    with Session(engine) as session, pytest.raises(InvalidNoticeKey):
        current_notice(session, kind, language)


@pytest.mark.parametrize("explicit_begin", [False, True], ids=["driver-begin", "explicit-begin"])
def test_processes_starting_together_store_each_text_once(
    database_url: str, engine: Engine, tmp_path: Path, explicit_begin: bool
) -> None:
    if explicit_begin and not database_url.startswith("sqlite"):
        pytest.skip("the BEGIN recipe is SQLite's; PostgreSQL has one way to begin, run by the other variant")
    old_dir = write_notice_files(tmp_path / "old")
    _sync(engine, old_dir)
    new_dir = write_notice_files(tmp_path / "new", {key: f"{text} (revised)" for key, text in NOTICE_TEXTS.items()})
    # One engine per thread, like separate processes starting at once.
    engines = [engine_for(database_url, explicit_begin) for _ in range(6)]
    barrier = threading.Barrier(len(engines))
    results: list[dict[tuple[str, str], NoticeVersion]] = []
    errors: list[BaseException] = []

    def start_up(own_engine: Engine) -> None:
        try:
            barrier.wait()
            results.append(_sync(own_engine, new_dir))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start_up, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for own_engine in engines:
        own_engine.dispose()

    assert errors == []
    assert len(results) == len(engines)
    assert all({key: n.id for key, n in r.items()} == {key: n.id for key, n in results[0].items()} for r in results)
    assert {n.version for n in results[0].values()} == {2}
    assert len(_all_versions(engine)) == 8
