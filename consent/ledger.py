"""The consent ledger: an append-only, hash-chained record of consent decisions.

Every append locks the single chain-head row first, so writers in any thread,
process or server instance sharing the database take turns, and each event links
to the one before it by hash.

One module of some 500 lines because appending, verifying, pruning and erasing all depend on how an event's hash
is computed; split apart, a change to that computation could miss one of them.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from consent import digests
from consent.digests import answer_digest, new_answer_salt, sha256_hex
from consent.models import (
    ANSWER_MAX_LENGTH,
    CONSENT,
    DISCLOSURE,
    GENESIS_HASH,
    LANGUAGES,
    REF_MAX_LENGTH,
    ConsentChainHead,
    ConsentEvent,
    NoticeVersion,
)
from consent.timestamps import require_aware, utc_now

# Keyset pages keep each read short: on SQLite without WAL an open read blocks
# every writer's commit, and callers wait on those commits.
_VERIFY_PAGE_SIZE = 1000
LATEST_EVENTS_MAX = 1000

_Choice = TypeVar("_Choice", bound=StrEnum)


class Decision(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    NO_ANSWER = "no_answer"
    WITHDRAWN = "withdrawn"


class Method(StrEnum):
    KEYPAD = "keypad"
    SPEECH = "speech"
    TEXT = "text"  # typed words, on a text channel instead of a phone call
    NONE = "none"


class InvalidConsentRecord(ValueError):
    pass


class InvalidLedgerQuery(ValueError):
    pass


class ChainHeadMissing(RuntimeError):
    """Events exist without a chain head: appending would fork the chain."""


@dataclass(frozen=True)
class ConsentRecord:
    """What the dialogue knows about one consent decision, checked before it is stored."""

    call_ref: str
    subject: str
    notice: NoticeVersion
    disclosure: NoticeVersion | None
    language: str
    decision: Decision
    method: Method
    recognised_answer: str | None
    prompt_count: int
    notice_played_at: datetime
    answered_at: datetime | None

    def __post_init__(self) -> None:
        _check_ref("call_ref", self.call_ref)
        _check_ref("subject", self.subject)
        if self.language not in LANGUAGES:
            raise InvalidConsentRecord(f"language must be one of {LANGUAGES}, got {self.language!r}")
        # Accept the plain values too ("granted"), but store the enum members.
        object.__setattr__(self, "decision", _as_enum(Decision, "decision", self.decision))
        object.__setattr__(self, "method", _as_enum(Method, "method", self.method))
        _check_notice(self.notice, CONSENT, "notice")
        if self.notice.language != self.language:
            raise InvalidConsentRecord(
                f"notice is in {self.notice.language!r} but the record's language is {self.language!r}"
            )
        # The disclosure may be in another language: callers can switch after the greeting.
        if self.disclosure is not None:
            _check_notice(self.disclosure, DISCLOSURE, "disclosure")
        if isinstance(self.prompt_count, bool) or not isinstance(self.prompt_count, int) or self.prompt_count < 1:
            raise InvalidConsentRecord(f"prompt_count must be an integer >= 1, got {self.prompt_count!r}")
        self._check_answer()
        self._check_times()

    def _check_answer(self) -> None:
        if self.method is Method.NONE and self.decision is not Decision.NO_ANSWER:
            raise InvalidConsentRecord(f"decision {self.decision.value} needs an answer, but method is none")
        if self.recognised_answer is None:
            return
        if self.method not in (Method.SPEECH, Method.TEXT):
            raise InvalidConsentRecord(
                f"recognised_answer is only kept for speech or text, not for {self.method.value}"
            )
        if not isinstance(self.recognised_answer, str) or not self.recognised_answer.strip():
            raise InvalidConsentRecord("recognised_answer must be non-blank text or None")
        if len(self.recognised_answer) > ANSWER_MAX_LENGTH:
            raise InvalidConsentRecord(
                f"recognised_answer has {len(self.recognised_answer)} characters, at most {ANSWER_MAX_LENGTH} allowed"
            )

    def _check_times(self) -> None:
        played = _aware("notice_played_at", self.notice_played_at)
        if (self.answered_at is None) != (self.method is Method.NONE):
            raise InvalidConsentRecord("answered_at must be given exactly when there was an answer (method not none)")
        if self.answered_at is not None and _aware("answered_at", self.answered_at) < played:
            raise InvalidConsentRecord("answered_at is before notice_played_at")


@dataclass(frozen=True)
class ChainHead:
    """The chain's end (last_seq, last_event_hash) and its anchor after retention (base_seq, base_hash)."""

    last_seq: int
    last_event_hash: str
    base_seq: int
    base_hash: str


@dataclass(frozen=True)
class ChainVerification:
    """Outcome of verify_chain. checked counts the events found intact, in seq order."""

    ok: bool
    checked: int
    first_broken_seq: int | None = None
    reason: str | None = None


def append_event(engine: Engine, record: ConsentRecord) -> ConsentEvent:
    """Store `record` as the next event of the chain; committed when this returns.

    Raises sqlalchemy's OperationalError if the database stays locked beyond the
    engine's timeout, and ChainHeadMissing if the ledger has lost its head row.
    """
    if not isinstance(record, ConsentRecord):
        raise InvalidConsentRecord(f"expected a ConsentRecord, got {type(record).__name__}")
    event = _append_under_head_lock(engine, record)
    if event is None:
        _create_chain_head(engine)
        event = _append_under_head_lock(engine, record)
    if event is None:
        raise ChainHeadMissing("the consent_chain_head row disappeared while appending")
    return event


def verify_chain(engine: Engine) -> ChainVerification:
    """Recompute the whole chain in seq order and name the first broken link.

    Starts at the anchor retention left (the genesis hash if nothing was deleted). Runs alongside
    appends: it reads the head before and after the events, so an event committed meanwhile is not
    mistaken for tampering.
    """
    head_before = _read_head(engine)
    base_seq = 0 if head_before is None else head_before.base_seq
    prev_hash = GENESIS_HASH if head_before is None else head_before.base_hash
    before_seq = base_seq if head_before is None else head_before.last_seq
    hash_at_before_seq = prev_hash if before_seq == base_seq else None
    notices = _NoticeChecks(engine)
    checked = 0
    try:
        for event in _events_in_seq_order(engine, after_seq=base_seq):
            expected_seq = base_seq + checked + 1
            if event.seq != expected_seq:
                return _broken(checked, expected_seq, f"event seq {expected_seq} is missing; next is seq {event.seq}")
            problem = _link_problem(event, prev_hash, base_seq) or notices.problem(event)
            if problem is not None:
                return _broken(checked, event.seq, problem)
            prev_hash = event.event_hash
            checked += 1
            if event.seq == before_seq:
                hash_at_before_seq = event.event_hash
    except (ValueError, TypeError) as error:
        # A value rewritten into something its column type cannot load.
        first_unread = base_seq + checked + 1
        return _broken(checked, first_unread, f"events from seq {first_unread} on cannot be read: {error}")

    head_problem = _head_problem(base_seq + checked, prev_hash, head_before, hash_at_before_seq, _read_head(engine))
    if head_problem is not None:
        return _broken(checked, *head_problem)
    return ChainVerification(ok=True, checked=checked)


def chain_head(engine: Engine) -> ChainHead:
    """Where the chain ends now; recorded in exports so a later check can tell whether history changed."""
    head = _read_head(engine)
    if head is None:
        return ChainHead(last_seq=0, last_event_hash=GENESIS_HASH, base_seq=0, base_hash=GENESIS_HASH)
    return ChainHead(
        last_seq=head.last_seq, last_event_hash=head.last_event_hash, base_seq=head.base_seq, base_hash=head.base_hash
    )


def event_hash_at(engine: Engine, seq: int) -> str | None:
    """The stored hash of event `seq`: the base hash for the anchor itself, None when the event is gone."""
    head = _read_head(engine)
    if head is not None and seq == head.base_seq:
        return head.base_hash
    if seq == 0:
        return GENESIS_HASH
    with Session(engine) as session:
        return session.exec(select(ConsentEvent.event_hash).where(ConsentEvent.seq == seq)).first()


def erase_answers(engine: Engine, *, subject: str | None = None, recorded_before: datetime | None = None) -> int:
    """Forget what callers said when answering, of one subject or of events recorded before a time; the
    digest the chain covers stays, so every event still verifies. Returns the events changed."""
    if subject is None and recorded_before is None:
        raise InvalidLedgerQuery("erase_answers needs a subject or a time")
    statement = update(ConsentEvent).where(
        col(ConsentEvent.recognised_answer).is_not(None) | col(ConsentEvent.answer_salt).is_not(None)
    )
    if subject is not None:
        _check_ref("subject", subject)
        statement = statement.where(col(ConsentEvent.subject) == subject)
    if recorded_before is not None:
        statement = statement.where(col(ConsentEvent.recorded_at) < _aware("recorded_before", recorded_before))
    with Session(engine) as session, session.begin():
        result = session.exec(
            statement.values(recognised_answer=None, answer_salt=None).execution_options(synchronize_session=False)
        )
        return result.rowcount


def prune_events_recorded_before(engine: Engine, cutoff: datetime) -> int:
    """Delete the oldest events recorded before `cutoff` and move the chain's anchor past them.

    Only an unbroken run from the start of the chain goes, so what remains still verifies from the
    anchor. Running it again with the same cutoff deletes nothing more.
    """
    cutoff = _aware("cutoff", cutoff)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if session.exec(_LOCK_CHAIN_HEAD).rowcount == 0:
            return 0
        head = session.exec(select(ConsentChainHead).where(ConsentChainHead.id == 1)).one()
        first_kept = session.exec(
            select(ConsentEvent.seq)
            .where(ConsentEvent.seq > head.base_seq)
            .where(ConsentEvent.recorded_at >= cutoff)
            .order_by(col(ConsentEvent.seq))
            .limit(1)
        ).first()
        last_pruned_seq = head.last_seq if first_kept is None else first_kept - 1
        if last_pruned_seq <= head.base_seq:
            return 0
        last_pruned = session.exec(select(ConsentEvent).where(ConsentEvent.seq == last_pruned_seq)).one()
        result = session.exec(
            delete(ConsentEvent)
            .where(col(ConsentEvent.seq) > head.base_seq)
            .where(col(ConsentEvent.seq) <= last_pruned_seq)
            .execution_options(synchronize_session=False)
        )
        head.base_seq = last_pruned_seq
        head.base_hash = last_pruned.event_hash
        return result.rowcount


def latest_events(engine: Engine, limit: int = 20) -> list[ConsentEvent]:
    """The newest events first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LATEST_EVENTS_MAX:
        raise InvalidLedgerQuery(f"limit must be an integer from 1 to {LATEST_EVENTS_MAX}, got {limit!r}")
    with Session(engine) as session:
        statement = select(ConsentEvent).order_by(col(ConsentEvent.seq).desc()).limit(limit)
        return list(session.exec(statement))


def events_for_call(engine: Engine, call_ref: str) -> list[ConsentEvent]:
    """Every event of one call, oldest first."""
    if not isinstance(call_ref, str) or not call_ref.strip():
        raise InvalidLedgerQuery("call_ref must be non-blank text")
    with Session(engine) as session:
        statement = select(ConsentEvent).where(ConsentEvent.call_ref == call_ref).order_by(col(ConsentEvent.seq))
        return list(session.exec(statement))


def _check_ref(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidConsentRecord(f"{name} must be non-blank text, got {value!r}")
    if len(value) > REF_MAX_LENGTH:
        raise InvalidConsentRecord(f"{name} has {len(value)} characters, at most {REF_MAX_LENGTH} allowed")


def _as_enum(enum: type[_Choice], name: str, value: object) -> _Choice:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    raise InvalidConsentRecord(f"{name} must be one of {allowed}, got {value!r}")


def _check_notice(notice: object, kind: str, name: str) -> None:
    if not isinstance(notice, NoticeVersion):
        raise InvalidConsentRecord(f"{name} must be a NoticeVersion, got {type(notice).__name__}")
    if notice.kind != kind:
        raise InvalidConsentRecord(f"{name} must be a {kind} notice, got a {notice.kind} notice")
    _stored_id(notice, name)


def _stored_id(notice: NoticeVersion, name: str) -> int:
    if notice.id is None:
        raise InvalidConsentRecord(f"{name} is not a stored notice version (no id)")
    return notice.id


def _aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidConsentRecord(f"{name} must be a datetime, got {type(value).__name__}")
    try:
        return require_aware(value, name)
    except ValueError as error:
        raise InvalidConsentRecord(str(error)) from None


# Taking the write lock is the point of this UPDATE: it makes every later writer
# wait here (SQLite database lock, PostgreSQL row lock) until this one commits.
# Under PostgreSQL's READ COMMITTED the SELECT that follows takes a fresh snapshot,
# so the waiter reads the head its predecessor committed, never a stale one.
_LOCK_CHAIN_HEAD = (
    update(ConsentChainHead)
    .where(col(ConsentChainHead.id) == 1)
    .values(last_seq=ConsentChainHead.last_seq)
    .execution_options(synchronize_session=False)
)


def _append_under_head_lock(engine: Engine, record: ConsentRecord) -> ConsentEvent | None:
    """Append in one transaction; None if there is no head row to lock yet."""
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            # Must be the transaction's first statement: on SQLite a transaction that
            # has read cannot wait for the write lock; it fails at once with "locked".
            if session.exec(_LOCK_CHAIN_HEAD).rowcount == 0:
                return None
            head = session.exec(select(ConsentChainHead).where(ConsentChainHead.id == 1)).one()
            event = _new_event(record, seq=head.last_seq + 1, prev_hash=head.last_event_hash)
            session.add(event)
            head.last_seq = event.seq
            head.last_event_hash = event.event_hash
        return event


def _salted_digest(answer: str) -> tuple[str, str]:
    salt = new_answer_salt()
    return salt, answer_digest(salt, answer)


def _new_event(record: ConsentRecord, seq: int, prev_hash: str) -> ConsentEvent:
    answer = record.recognised_answer
    salt, digest = (None, None) if answer is None else _salted_digest(answer)
    disclosure = record.disclosure
    event = ConsentEvent(
        seq=seq,
        call_ref=record.call_ref,
        subject=record.subject,
        notice_version_id=_stored_id(record.notice, "notice"),
        notice_sha256=record.notice.sha256,
        disclosure_version_id=None if disclosure is None else disclosure.id,
        disclosure_sha256=None if disclosure is None else disclosure.sha256,
        language=record.language,
        decision=record.decision.value,
        method=record.method.value,
        recognised_answer=answer,
        answer_digest=digest,
        answer_salt=salt,
        prompt_count=record.prompt_count,
        notice_played_at=require_aware(record.notice_played_at, "notice_played_at"),
        answered_at=None if record.answered_at is None else require_aware(record.answered_at, "answered_at"),
        recorded_at=utc_now(),
        prev_hash=prev_hash,
        event_hash="",
    )
    event.event_hash = digests.event_hash(event)
    return event


def _create_chain_head(engine: Engine) -> None:
    try:
        with Session(engine) as session, session.begin():
            # Insert before reading, for the same reason the append locks first.
            session.add(ConsentChainHead(id=1, last_seq=0, last_event_hash=GENESIS_HASH))
            session.flush()
            if session.exec(select(ConsentEvent.id).limit(1)).first() is not None:
                raise ChainHeadMissing(
                    "consent events exist but the consent_chain_head row is missing; refusing to start a second chain"
                )
    except IntegrityError:
        pass  # another writer created it first, which is just as good


def _read_head(engine: Engine) -> ConsentChainHead | None:
    with Session(engine) as session:
        return session.get(ConsentChainHead, 1)


def _events_in_seq_order(engine: Engine, after_seq: int) -> Iterator[ConsentEvent]:
    while True:
        with Session(engine) as session:
            statement = (
                select(ConsentEvent)
                .where(ConsentEvent.seq > after_seq)
                .order_by(col(ConsentEvent.seq))
                .limit(_VERIFY_PAGE_SIZE)
            )
            page = list(session.exec(statement))
        yield from page
        if len(page) < _VERIFY_PAGE_SIZE:
            return
        after_seq = page[-1].seq


def _link_problem(event: ConsentEvent, prev_hash: str, base_seq: int) -> str | None:
    if event.prev_hash != prev_hash:
        if event.seq == 1:
            return "prev_hash of the first event is not the genesis hash"
        if event.seq == base_seq + 1:
            return f"prev_hash does not match the anchor left when events up to seq {base_seq} were deleted"
        return f"prev_hash does not match the event_hash of seq {event.seq - 1}"
    if event.recognised_answer is not None and (
        event.answer_salt is None or event.answer_digest != answer_digest(event.answer_salt, event.recognised_answer)
    ):
        return "recognised_answer does not match answer_digest"
    if digests.event_hash(event) != event.event_hash:
        return "event_hash does not match the event's recorded fields"
    return None


@dataclass
class _NoticeChecks:
    """Checks that the notices an event names still hold the text it was given."""

    engine: Engine
    _cache: dict[int, NoticeVersion | None] = field(default_factory=dict)

    def problem(self, event: ConsentEvent) -> str | None:
        return self._problem(CONSENT, event.notice_version_id, event.notice_sha256) or self._problem(
            DISCLOSURE, event.disclosure_version_id, event.disclosure_sha256
        )

    def _problem(self, kind: str, version_id: int | None, recorded_sha: str | None) -> str | None:
        if version_id is None:
            return None if recorded_sha is None else f"{kind} sha256 recorded without a {kind} version"
        notice = self._notice(version_id)
        if notice is None:
            return f"{kind} notice version id {version_id} does not exist"
        if notice.kind != kind:
            return f"notice version id {version_id} is a {notice.kind} notice, not a {kind} notice"
        if sha256_hex(notice.text) != notice.sha256:
            return f"the text of {kind} notice version id {version_id} no longer matches its sha256"
        if notice.sha256 != recorded_sha:
            return f"{kind} sha256 differs from notice version id {version_id}"
        return None

    def _notice(self, version_id: int) -> NoticeVersion | None:
        if version_id not in self._cache:
            with Session(self.engine) as session:
                self._cache[version_id] = session.get(NoticeVersion, version_id)
        return self._cache[version_id]


def _head_problem(
    last_seq: int,
    last_hash: str,
    before: ConsentChainHead | None,
    hash_at_before_seq: str | None,
    after: ConsentChainHead | None,
) -> tuple[int, str] | None:
    """Compare the verified chain with the head read before and after reading it.

    Appends commit event and head together, so the chain read in between must
    reach at least the first head and no further than the second.
    """
    if after is None:
        if last_seq == 0:
            return None
        return last_seq + 1, "the chain head row is missing, so the end of the chain is unproven"
    before_seq = 0 if before is None else before.last_seq
    if last_seq < before_seq:
        return last_seq + 1, f"the chain head records {before_seq} events but the chain ends at seq {last_seq}"
    if before is not None and before_seq > 0 and hash_at_before_seq != before.last_event_hash:
        return before_seq, f"event seq {before_seq} does not carry the hash held by the chain head"
    if last_seq > after.last_seq:
        return after.last_seq + 1, f"event seq {after.last_seq + 1} lies beyond the chain head (seq {after.last_seq})"
    if last_seq == after.last_seq and last_hash != after.last_event_hash:
        return last_seq, f"the chain head hash does not match event seq {last_seq}"
    return None


def _broken(checked: int, seq: int, reason: str) -> ChainVerification:
    return ChainVerification(ok=False, checked=checked, first_broken_seq=seq, reason=reason)
