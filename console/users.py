"""Console users: ``EDUHOOK_CONSOLE_USERS`` parsed; passwords hashed and checked with Argon2 (argon2-cffi).

An entry is ``name:hash`` or ``name:pii:hash``; entries are joined by commas. An Argon2 hash has
commas of its own (``m=65536,t=3,p=4``), so a new entry starts only where a piece reads
``name:$`` or ``name:pii:$``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_ENTRY = re.compile(r"(?P<name>[A-Za-z0-9_.@-]{1,64})(?P<pii>:pii)?:(?P<hash>\$.+)")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Checked when the name is unknown, so an unknown name costs as long as a wrong password."""
    return _HASHER.hash("not the password of anyone")


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    pii: bool  # may unredact one event at a time (audited)
    password_hash: str

    def __repr__(self) -> str:
        return f"ConsoleUser(name={self.name!r}, pii={self.pii})"


class UsersError(ValueError):
    """``EDUHOOK_CONSOLE_USERS`` cannot be read; the message names the entry, never a hash."""


def parse_users(text: str) -> dict[str, ConsoleUser]:
    """The users of ``name[:pii]:hash,…``; :class:`UsersError` for anything else."""
    entries: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if _ENTRY.fullmatch(piece) or not entries:
            entries.append(piece)
        else:
            entries[-1] += "," + piece
    users: dict[str, ConsoleUser] = {}
    for n, entry in enumerate(entries, start=1):
        match = _ENTRY.fullmatch(entry)
        if match is None or not match["hash"].startswith("$argon2"):
            raise UsersError(f"entry {n} is not name:hash or name:pii:hash (use `eduhook console add-user`)")
        name = match["name"]
        if name in users:
            raise UsersError(f"user {name!r} is given twice")
        users[name] = ConsoleUser(name, bool(match["pii"]), match["hash"])
    return users


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def entry_for(name: str, password: str, *, pii: bool) -> str:
    """The ``EDUHOOK_CONSOLE_USERS`` entry for a new user."""
    if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
        raise UsersError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    return f"{name}{':pii' if pii else ''}:{hash_password(password)}"


def authenticate(users: dict[str, ConsoleUser], name: str, password: str) -> ConsoleUser | None:
    """The user when the password is theirs; the same work is done whether or not the name exists."""
    user = users.get(name)
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return user
