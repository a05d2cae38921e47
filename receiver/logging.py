"""Keeps webhook tokens out of log lines (uvicorn's access log prints paths and query strings).

Two rules, both applied to every string a record carries:
- the value of every query parameter whose *decoded* name is ``token`` is hidden, whatever the
  encoding (``?%74oken=``, ``?TOKEN=``, repeated parameters);
- every configured token is hidden wherever it appears, in the path or the query, raw or
  percent-encoded. When a token hid behind an encoding, the line shows the decoded text, redacted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from urllib.parse import unquote, unquote_plus

REDACTED = "[redacted]"
# A query parameter: the separator, the name as sent, the value as sent.
_PARAMETER = re.compile(r"([?&;])([^=&;?\s\"]*)=([^&;\s\"]*)")
# Percent-decoding is repeated this often, so double-encoded tokens are found too.
_DECODE_ROUNDS = 3


def _decoded(text: str) -> str:
    for _ in range(_DECODE_ROUNDS):
        once = unquote(text)
        if once == text:
            break
        text = once
    return text


def redact_query(text: str) -> str:
    """``text`` with the value of every ``token`` query parameter replaced by ``[redacted]``."""

    def hide(match: re.Match[str]) -> str:
        separator, name, _value = match.groups()
        if unquote_plus(_decoded(name)).strip().lower() == "token":
            return f"{separator}{name}={REDACTED}"
        return match.group(0)

    return _PARAMETER.sub(hide, text)


class TokenRedactor:
    """Hides the ``token`` parameter and every configured token value in a piece of text."""

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        self._tokens = sorted({t for t in tokens if t}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = redact_query(text)
        if not self._tokens:
            return text
        if "%" in text:
            decoded = _decoded(text)
            if decoded != text and any(token in decoded for token in self._tokens):
                text = redact_query(decoded)
        for token in self._tokens:
            text = text.replace(token, REDACTED)
        return text


class RedactTokenFilter(logging.Filter):
    """Rewrites a record's message through a ``TokenRedactor``.

    The message is rendered first (``msg % args``) and redacted whole, so a format string such as
    ``"?token=%s"`` stays valid and a token split between the format and its arguments is found.
    """

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        super().__init__()
        self._redact = TokenRedactor(tokens)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging reports it; redact its parts
            if isinstance(record.msg, str):
                record.msg = self._redact(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._redact(a) if isinstance(a, str) else a for a in record.args)
            return True
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_token_redaction(tokens: Sequence[str] = ()) -> None:
    """Attach the filter to uvicorn's loggers, replacing one attached before (so new tokens count)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, RedactTokenFilter)]:
            logger.removeFilter(old)
        logger.addFilter(RedactTokenFilter(tokens))
