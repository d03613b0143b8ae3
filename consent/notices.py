"""Versioned notice texts: the AI disclosure and the consent question, per language."""

from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from consent.digests import sha256_hex
from consent.models import LANGUAGES, NOTICE_KINDS, NoticeVersion
from consent.timestamps import utc_now

_NOTICE_FILE_NAMES = {f"{kind}.{language}.txt": (kind, language) for kind in NOTICE_KINDS for language in LANGUAGES}
# Each attempt loses only to another process inserting the same next version, so
# running out means notice texts keep changing under us: fail start-up loudly.
_SYNC_ATTEMPTS = 5


class InvalidNoticeFile(ValueError):
    pass


class InvalidNoticeKey(ValueError):
    pass


def sync_notices(session: Session, directory: Path) -> dict[tuple[str, str], NoticeVersion]:
    """Record the notice texts in `directory` as versions and return them by (kind, language).

    Expects exactly the files `<kind>.<language>.txt` for every kind and language.
    A text whose sha differs from the latest version becomes version latest+1;
    older versions stay as they are, because past events refer to them.

    Commits on `session`. Several processes may run this at once: the unique
    (kind, language, version) constraint picks one writer, the others re-read.
    The returned versions are those whose text equals this directory's files -
    the texts this process will speak - detached from the session so they stay
    readable after it closes or commits.
    """
    texts = _read_notice_files(directory)
    synced = {key: _sync_one(session, *key, text) for key, text in texts.items()}
    for version in synced.values():
        session.refresh(version)
        session.expunge(version)
    return synced


def current_notice(session: Session, kind: str, language: str) -> NoticeVersion:
    _check_key(kind, language)
    latest = _latest_version(session, kind, language)
    if latest is None:
        raise LookupError(f"no {kind} notice recorded for language {language!r}")
    return latest


def _normalise_text(raw: str) -> str:
    """Make the stored text independent of editor line endings and stray trailing blanks."""
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _check_key(kind: str, language: str) -> None:
    if kind not in NOTICE_KINDS:
        raise InvalidNoticeKey(f"notice kind must be one of {NOTICE_KINDS}, got {kind!r}")
    if language not in LANGUAGES:
        raise InvalidNoticeKey(f"notice language must be one of {LANGUAGES}, got {language!r}")


def _read_notice_files(directory: Path) -> dict[tuple[str, str], str]:
    if not directory.is_dir():
        raise NotADirectoryError(f"notice directory {directory} does not exist or is not a directory")
    texts: dict[tuple[str, str], str] = {}
    for path in sorted(directory.iterdir()):
        key = _notice_key(path)
        try:
            text = _normalise_text(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as error:
            raise InvalidNoticeFile(f"notice file {path.name} is not valid UTF-8: {error}") from error
        if not text:
            raise InvalidNoticeFile(f"notice file {path.name} is empty")
        texts[key] = text
    missing = [name for name, key in _NOTICE_FILE_NAMES.items() if key not in texts]
    if missing:
        raise InvalidNoticeFile(f"notice directory {directory} lacks {', '.join(missing)}")
    return texts


def _notice_key(path: Path) -> tuple[str, str]:
    key = _NOTICE_FILE_NAMES.get(path.name)
    if key is None or not path.is_file():
        raise InvalidNoticeFile(
            f"unexpected entry {path.name} in notice directory: expected only {', '.join(_NOTICE_FILE_NAMES)}"
        )
    return key


def _sync_one(session: Session, kind: str, language: str, text: str) -> NoticeVersion:
    sha = sha256_hex(text)
    for _ in range(_SYNC_ATTEMPTS):
        latest = _latest_version(session, kind, language)
        if latest is not None and latest.sha256 == sha:
            return latest
        next_version = 1 if latest is None else latest.version + 1
        # End the read first: on SQLite a transaction that has read cannot wait for
        # the write lock; it fails at once with "locked" instead of waiting.
        session.commit()
        version = NoticeVersion(
            kind=kind,
            language=language,
            version=next_version,
            text=text,
            sha256=sha,
            valid_from=utc_now(),
        )
        session.add(version)
        try:
            session.commit()
        except IntegrityError:
            # Another process stored this version number first; see what it stored.
            session.rollback()
            continue
        return version
    raise RuntimeError(
        f"could not record the {kind}.{language} notice after {_SYNC_ATTEMPTS} attempts: "
        "other processes keep storing different texts"
    )


def _latest_version(session: Session, kind: str, language: str) -> NoticeVersion | None:
    statement = (
        select(NoticeVersion)
        .where(NoticeVersion.kind == kind, NoticeVersion.language == language)
        .order_by(col(NoticeVersion.version).desc())
        .limit(1)
    )
    return session.exec(statement).first()
