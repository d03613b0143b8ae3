"""How texts, answers and consent events are hashed.

The event chain is computed over digests rather than raw personal data, so that
personal data (the recognised answer) can be erased later without breaking
verification of any event.
"""

import hashlib
import hmac
import json
import secrets
from datetime import datetime

from consent.models import ConsentEvent
from consent.timestamps import require_aware

# The canonical list of what an event proves. Changing it breaks verification of
# every event already recorded. recognised_answer is deliberately absent: it is
# represented by answer_digest. id is a storage detail; prev_hash and event_hash
# enter through link_hash.
PROOF_FIELDS = (
    "seq",
    "call_ref",
    "subject",
    "notice_version_id",
    "notice_sha256",
    "disclosure_version_id",
    "disclosure_sha256",
    "language",
    "decision",
    "method",
    "answer_digest",
    "prompt_count",
    "notice_played_at",
    "answered_at",
    "recorded_at",
)

ProofValue = str | int | None


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_answer_salt() -> str:
    return secrets.token_hex(16)


def answer_digest(salt: str, answer: str) -> str:
    """Keyed by a per-event salt: a bare hash of "yes" or "ja" could be reversed by guessing, and once the
    answer and its salt are erased the digest that stays in the chain reveals nothing."""
    return hmac.new(salt.encode("ascii"), answer.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical(name: str, value: object) -> ProofValue:
    if isinstance(value, datetime):
        return require_aware(value, name).isoformat(timespec="microseconds")
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"{name} has no canonical form: {type(value).__name__}")


def payload_digest(event: ConsentEvent) -> str:
    payload = {name: _canonical(name, getattr(event, name)) for name in PROOF_FIELDS}
    canonical_json = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return sha256_hex(canonical_json)


def link_hash(prev_hash: str, payload: str) -> str:
    return sha256_hex(prev_hash + payload)


def event_hash(event: ConsentEvent) -> str:
    """The hash `event` must carry, given its prev_hash and proof fields."""
    return link_hash(event.prev_hash, payload_digest(event))
