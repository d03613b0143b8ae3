"""Phone numbers are personal data: only their keyed hash is stored, so calls of one caller can be linked
(and found again for an access or erasure request) without the number itself being kept."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

UNKNOWN_CALLER = "unknown"


def normalise_phone_number(raw: str, default_region: str | None = None) -> str | None:
    """E.164 form of a number, or None when it is not a valid phone number (withheld, 'anonymous', garbage)."""
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region)
    except (phonenumbers.NumberParseException, AttributeError):
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def pseudonymise(raw_number: str, secret_key: str) -> str:
    """HMAC-SHA256 of the E.164 number, or a fixed marker for withheld and invalid numbers."""
    number = normalise_phone_number(raw_number)
    if number is None:
        return UNKNOWN_CALLER
    return hmac.new(secret_key.encode(), number.encode(), hashlib.sha256).hexdigest()
