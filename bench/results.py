"""bench/RESULTS.md: each benchmark owns one marked section and replaces only that."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, section: str, *, start: str, end: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in ``path``: in place of
    the old one if there is one, else at the end. Every other section is kept."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
