"""The merchants' customer service contacts (data/merchants.toml), and finding the merchant a caller names.

Names in transcripts come in every spelling ("media markt", "H und M", "curries"), so a merchant is matched on
its name and aliases with case, spaces and punctuation ignored, as whole words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice_app.accounts.data_files import read_toml
from voice_app.accounts.fee_schedule import DATA_DIR

MERCHANTS_PATH = DATA_DIR / "merchants.toml"
# Country code, then groups of digits as the number is written and read out: "+49 30 23125 101".
_GROUPED_PHONE = re.compile(r"^\+\d{1,3}( \d{1,6}){2,5}$")
_DOMAIN = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")
_EMAIL = re.compile(r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
COUNTRIES = ("de", "gb")


class MerchantDirectoryError(ValueError):
    """The merchant file is missing or wrong; the message names the merchant and key."""


@dataclass(frozen=True)
class MerchantContact:
    name: str
    aliases: tuple[str, ...]
    website: str
    email: str
    phones: Mapping[str, str]  # country ("de", "gb") -> number in digit groups

    def phone_for(self, country: str) -> str:
        """The number for callers in `country`, else the one number the merchant has."""
        return self.phones.get(country) or next(iter(self.phones.values()))


def _folded(text: str) -> str:
    """Lower case, accents and punctuation dropped, '&' read as 'and', single spaces: 'H & M' -> 'h and m'."""
    text = unicodedata.normalize("NFKD", text.lower().replace("&", " and "))
    text = "".join(character for character in text if not unicodedata.combining(character))
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def _squashed(text: str) -> str:
    return _folded(text).replace(" ", "")


@dataclass(frozen=True)
class MerchantDirectory:
    merchants: tuple[MerchantContact, ...]

    def get(self, name: str) -> MerchantContact | None:
        """The merchant with this name or alias (case and spacing do not matter)."""
        wanted = _squashed(name)
        return next(
            (merchant for merchant in self.merchants if wanted in map(_squashed, (merchant.name, *merchant.aliases))),
            None,
        )

    def named_in(self, transcript: str) -> tuple[MerchantContact, ...]:
        """The merchants the transcript names, in the order they are named."""
        words = _folded(transcript).split()
        squashed_text = f" {' '.join(words)} "
        found: list[tuple[int, MerchantContact]] = []
        for merchant in self.merchants:
            for spelling in (merchant.name, *merchant.aliases):
                folded = _folded(spelling)
                # Whole words, and the spelling run together as one word ("mediamarkt" for "Media Markt").
                for candidate in {folded, folded.replace(" ", "")}:
                    position = squashed_text.find(f" {candidate} ")
                    if candidate and position >= 0:
                        found.append((position, merchant))
        ordered = sorted(found, key=lambda item: item[0])
        by_name = {merchant.name: merchant for _, merchant in ordered}
        return tuple(by_name[name] for name in dict.fromkeys(merchant.name for _, merchant in ordered))


def parse_merchants(data: Mapping[str, Any], source: str = "merchants") -> MerchantDirectory:
    rows = data.get("merchants")
    if not isinstance(rows, list) or not rows:
        raise MerchantDirectoryError(f"{source}: no [[merchants]] entries")
    merchants = []
    seen: dict[str, str] = {}
    for index, row in enumerate(rows):
        merchant = _merchant(row, f"{source}: merchants[{index}]")
        for spelling in (merchant.name, *merchant.aliases):
            key = _squashed(spelling)
            if seen.get(key, merchant.name) != merchant.name:
                raise MerchantDirectoryError(
                    f"{source}: {spelling!r} of {merchant.name} is already a name of {seen[key]}"
                )
            seen[key] = merchant.name
        merchants.append(merchant)
    return MerchantDirectory(tuple(merchants))


def _merchant(row: object, name: str) -> MerchantContact:
    if not isinstance(row, dict):
        raise MerchantDirectoryError(f"{name} must be a table")
    unknown = sorted(set(row) - {"name", "aliases", "website", "email", *(f"phone_{c}" for c in COUNTRIES)})
    if unknown:
        raise MerchantDirectoryError(f"{name}.{unknown[0]} is not a known key")
    title = row.get("name")
    if not isinstance(title, str) or not _folded(title):
        raise MerchantDirectoryError(f"{name}.name must be a non-empty string, not {title!r}")
    name = f"{name} ({title})"
    aliases = row.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) and _folded(alias) for alias in aliases):
        raise MerchantDirectoryError(f"{name}.aliases must be a list of non-empty strings")
    website, email = row.get("website"), row.get("email")
    if not isinstance(website, str) or not _DOMAIN.match(website):
        raise MerchantDirectoryError(f"{name}.website must be a lower-case domain like shop.de, not {website!r}")
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise MerchantDirectoryError(f"{name}.email must be an e-mail address, not {email!r}")
    phones = {}
    for country in COUNTRIES:
        phone = row.get(f"phone_{country}")
        if phone is None:
            continue
        if not isinstance(phone, str) or not _GROUPED_PHONE.match(phone):
            raise MerchantDirectoryError(
                f"{name}.phone_{country} must be a number in digit groups like +49 30 23125 101, not {phone!r}"
            )
        phones[country] = phone
    if not phones:
        raise MerchantDirectoryError(f"{name} needs phone_de, phone_gb or both")
    return MerchantContact(title, tuple(aliases), website, email, phones)


def load_merchants(path: Path = MERCHANTS_PATH) -> MerchantDirectory:
    return parse_merchants(read_toml(path, "merchant directory", MerchantDirectoryError), str(path))


@functools.cache
def merchant_directory() -> MerchantDirectory:
    """The bundled directory, read once."""
    return load_merchants()
