"""Penn Foster's field rules as pure functions: letters-only names, digit phones, mmddyyyy, ISO codes.

Each function returns the value Penn Foster should receive or raises ``Unusable`` with a reason
("missing", "invalid", "too long (max N)") that never quotes the value: callers name the field
and the Eduframe record, so a message can be logged without personal data.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

import pycountry

# Letters NFKD does not decompose into an ASCII letter plus accents.
_TRANSLITERATE = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
    | {"đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "\u0131": "i", "ŉ": "n"}
)
_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_GENDERS = {
    "M": {"m", "male", "man", "mannelijk"},
    "F": {"f", "female", "woman", "v", "vrouw", "vrouwelijk"},
    "U": {"u", "unknown", "x", "other", "onbekend", "anders"},
}


class Unusable(ValueError):
    """A value Penn Foster cannot take; ``reason`` is safe to log (no value inside)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def present(value: Any) -> str | None:
    """``value`` as stripped text, or ``None`` when absent or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def require(value: str | None) -> str:
    if value is None:
        raise Unusable("missing")
    return value


def fit(value: str, size: int) -> str:
    """Penn Foster's Size column is a hard limit: refuse rather than cut (an address cut short
    ships materials to the wrong place)."""
    if len(value) > size:
        raise Unusable(f"too long (max {size})")
    return value


def letters(value: str | None, size: int) -> str:
    """A name as Penn Foster keeps it: "Will remove any non-alphabetic characters". Accents are
    dropped first ("José" → "Jose") so the letters survive in Penn Foster's plain-ASCII records;
    hyphens, apostrophes and spaces go ("Mary-Jane O'Brien" → "MaryJane", "OBrien")."""
    text = require(present(value))
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    kept = _NOT_ASCII_LETTER.sub("", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    if not kept:
        raise Unusable("invalid (no letters)")
    return fit(kept, size)


def digits(value: str | None, size: int) -> str:
    """A phone number as digits only ("Format 18001234567, non-numeric values will be removed")."""
    text = require(present(value))
    kept = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    if not kept:
        raise Unusable("invalid (no digits)")
    return fit(kept, size)


def birth_date(value: Any, *, today: date | None = None) -> str:
    """``mmddyyyy`` from a date or an ISO ``YYYY-MM-DD`` text. Other layouts are refused: whether
    01-04-1990 is January or April depends on who typed it."""
    day: date
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        match = _ISO_DATE.fullmatch(require(present(value)))
        if match is None:
            raise Unusable("invalid (expected YYYY-MM-DD)")
        try:
            day = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise Unusable("invalid (no such date)") from None
    if not date(1900, 1, 1) <= day <= (today or date.today()):
        raise Unusable("invalid (not a plausible birth date)")
    return day.strftime("%m%d%Y")


def gender(value: Any, default: str) -> str:
    """``M``, ``F`` or ``U`` from common English and Dutch answers; ``default`` when absent."""
    text = present(value)
    if text is None:
        return default
    for code, words in _GENDERS.items():
        if text.casefold() in words:
            return code
    raise Unusable("invalid (expected M, F or U)")


def country_alpha3(value: str | None) -> str:
    """Eduframe's ISO 3166 alpha-2 (or an alpha-3 already) as the alpha-3 Penn Foster expects."""
    text = require(present(value)).upper()
    found = None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text)
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text)
    if found is None:
        raise Unusable("invalid (not an ISO 3166 country code)")
    return str(found.alpha_3)


def _subdivision(alpha3: str, text: str) -> str | None:
    """The code part (``CO`` of ``US-CO``) of a subdivision given by code or by name."""
    country = pycountry.countries.get(alpha_3=alpha3)
    if country is None:
        return None
    alpha2 = str(country.alpha_2)
    if pycountry.subdivisions.get(code=f"{alpha2}-{text.upper()}") is not None:  # type: ignore[no-untyped-call]
        return text.upper()
    for sub in pycountry.subdivisions.get(country_code=alpha2) or []:  # type: ignore[no-untyped-call]
        if str(sub.name).casefold() == text.casefold():
            return str(sub.code).split("-", 1)[1]
    return None


def state(value: str | None, alpha3: str, *, outside_us: str | None, size: int = 3) -> str:
    """ "Expecting 2 character state": a US state must be a real one (by code or name); elsewhere
    a short subdivision code is kept, and ``outside_us`` stands in when there is none."""
    text = present(value)
    if alpha3 == "USA":
        code = _subdivision(alpha3, require(text))
        if code is None or len(code) != 2:
            raise Unusable("invalid (not a US state)")
        return code
    if text is not None:
        code = _subdivision(alpha3, text)
        if code is not None and len(code) <= size and code.isalnum():
            return code
        if len(text) <= size and text.isalnum():
            return text.upper()
    if outside_us is not None:
        return outside_us.upper()
    raise Unusable("missing" if text is None else "invalid (not a short state or province code)")


def email(value: str | None, size: int) -> str:
    """Penn Foster's only rule: "Must have an @ and a ."."""
    text = require(present(value))
    local, at, domain = text.partition("@")
    if not (local and at and "." in domain.strip(".")) or any(ch.isspace() for ch in text):
        raise Unusable("invalid (not an email address)")
    return fit(text, size)
