"""Tables of the consent ledger: notice versions, consent events and the chain head."""

from datetime import datetime

from sqlalchemy import CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from consent.timestamps import UTCDateTime

DISCLOSURE = "disclosure"
CONSENT = "consent"
NOTICE_KINDS = (DISCLOSURE, CONSENT)
LANGUAGES = ("en", "de")

SHA256_HEX_LENGTH = 64
ANSWER_SALT_HEX_LENGTH = 32
GENESIS_HASH = "0" * SHA256_HEX_LENGTH
REF_MAX_LENGTH = 255
ANSWER_MAX_LENGTH = 500


class NoticeVersion(SQLModel, table=True):
    """One exact text a caller heard. Never updated: a changed text is a new version."""

    __tablename__ = "consent_notice_version"
    __table_args__ = (UniqueConstraint("kind", "language", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    language: str = Field(max_length=8)
    version: int
    text: str = Field(sa_type=Text)
    sha256: str = Field(max_length=SHA256_HEX_LENGTH)
    valid_from: datetime = Field(sa_type=UTCDateTime)


class ConsentEvent(SQLModel, table=True):
    """One recorded consent decision, linked to its predecessor by prev_hash."""

    __tablename__ = "consent_event"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    call_ref: str = Field(index=True, max_length=REF_MAX_LENGTH)
    subject: str = Field(index=True, max_length=REF_MAX_LENGTH)
    notice_version_id: int = Field(foreign_key="consent_notice_version.id")
    notice_sha256: str = Field(max_length=SHA256_HEX_LENGTH)
    disclosure_version_id: int | None = Field(default=None, foreign_key="consent_notice_version.id")
    disclosure_sha256: str | None = Field(default=None, max_length=SHA256_HEX_LENGTH)
    language: str = Field(max_length=8)
    decision: str = Field(max_length=16)
    method: str = Field(max_length=16)
    # Personal data that may be erased later; the chain covers answer_digest instead.
    recognised_answer: str | None = Field(default=None, max_length=ANSWER_MAX_LENGTH)
    answer_digest: str | None = Field(default=None, max_length=SHA256_HEX_LENGTH)
    # Erased together with recognised_answer; outside the chain like the answer itself.
    answer_salt: str | None = Field(default=None, max_length=ANSWER_SALT_HEX_LENGTH)
    prompt_count: int
    notice_played_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=SHA256_HEX_LENGTH)
    event_hash: str = Field(max_length=SHA256_HEX_LENGTH)


class ConsentChainHead(SQLModel, table=True):
    """The single row every append locks first, so writers on any instance take turns.

    base_seq and base_hash anchor the chain once retention has deleted its oldest events: verification
    starts after base_seq, from base_hash, instead of from the genesis hash.
    """

    __tablename__ = "consent_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="consent_chain_head_single_row"),)

    id: int = Field(default=1, primary_key=True)
    last_seq: int
    last_event_hash: str = Field(max_length=SHA256_HEX_LENGTH)
    base_seq: int = Field(default=0)
    base_hash: str = Field(default=GENESIS_HASH, max_length=SHA256_HEX_LENGTH)
