"""bench/RESULTS.md: each benchmark owns one marked section and replaces only that."""

from __future__ import annotations

import argparse
import sys
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


def add_output_options(parser: argparse.ArgumentParser, default: Path, *, snapshot: bool) -> None:
    """``--results``, ``--no-write`` and (for benchmarks that re-run from a clean copy) ``--no-snapshot``."""
    parser.add_argument("--results", type=Path, default=default)
    if snapshot:
        parser.add_argument(
            "--no-snapshot", dest="snapshot", action="store_false",
            help="measure the working tree as it is, not a clean copy of HEAD (others may be editing it)",
        )  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="print the section instead of writing it")


def publish(section: str, path: Path, *, write: bool, tag: str, title: str) -> None:
    """Write ``section`` into ``path`` (or print it, for ``--no-write``) and say so on stderr."""
    if not write:
        print(section)
        return
    replace_section(path, section, start=section.split("\n", 1)[0], end=section.rstrip().rsplit("\n", 1)[1])
    print(f"[{tag}] wrote the {title} section of {path}", file=sys.stderr)
