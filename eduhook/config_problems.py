"""Configuration mistakes as lines a person can act on: where, what, and the key they likely meant.

A misplaced key is the mistake a newcomer makes most (``gender`` straight under
``[routes.penn_foster]`` instead of its ``defaults`` table), so an unknown key is reported with
the table that does take it, or else with the nearest known spelling (``difflib``). Lines name
locations and reasons, never the values given, which may be secrets or personal data.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

TablePath = tuple[str, ...]
# Typos closer than this to a known key are suggested; difflib's ratio, 0 (nothing alike) to 1.
_SAME_TABLE_CUTOFF = 0.6
_OTHER_TABLE_CUTOFF = 0.8
_MAX_HOMES = 3


@dataclass(frozen=True)
class KeyMap:
    """The tables of a TOML configuration and the keys each takes; ``()`` is the top level."""

    tables: Mapping[TablePath, frozenset[str]]
    arrays: frozenset[TablePath] = frozenset()  # tables written ``[[like.this]]``

    @classmethod
    def of_model(cls, model: type[BaseModel], at: TablePath, *, array: bool = False) -> KeyMap:
        """The tables ``model`` reads at ``at``: its own fields, and those of the models it nests."""
        tables: dict[TablePath, frozenset[str]] = {}

        def walk(current: type[BaseModel], path: TablePath) -> None:
            tables[path] = frozenset(current.model_fields)
            for name, field in current.model_fields.items():
                nested = nested_model(field.annotation)
                if nested is not None:
                    walk(nested, (*path, name))

        walk(model, at)
        return cls(tables, frozenset({at}) if array else frozenset())

    def merged(self, *others: KeyMap) -> KeyMap:
        tables = dict(self.tables)
        for other in others:
            tables.update(other.tables)
        return KeyMap(tables, self.arrays.union(*(other.arrays for other in others)))

    def knows(self, table: TablePath, key: str) -> bool:
        return key in self.tables.get(table, frozenset())

    def unknown(self, table: TablePath, key: str) -> str:
        """``unknown field (did you mean `[routes.penn_foster.defaults] gender`?)``."""
        hint = self.suggestion(table, key)
        return f"unknown field (did you mean {hint}?)" if hint else "unknown field"

    def suggestion(self, table: TablePath, key: str) -> str | None:
        """Where ``key`` belongs when another table takes it, else the nearest known spelling."""
        homes = [path for path, keys in self.tables.items() if key in keys and path != table]
        if homes:
            return " or ".join(self.spell(path, key) for path in _nearest(homes, table)[:_MAX_HOMES])
        here = sorted(self.tables.get(table, ()))
        close = difflib.get_close_matches(key, here, n=1, cutoff=_SAME_TABLE_CUTOFF)
        if close:
            return self.spell(table, close[0])
        everywhere = sorted({known for keys in self.tables.values() for known in keys})
        close = difflib.get_close_matches(key, everywhere, n=1, cutoff=_OTHER_TABLE_CUTOFF)
        if close:
            owners = [path for path, keys in self.tables.items() if close[0] in keys]
            return self.spell(_nearest(owners, table)[0], close[0])
        return None

    def spell(self, table: TablePath, key: str) -> str:
        """A key as it is written in the file: `` `[routes.penn_foster] program_id` ``."""
        if not table:
            return f"`{key}`"
        dotted = ".".join(table)
        header = f"[[{dotted}]]" if table in self.arrays else f"[{dotted}]"
        return f"`{header} {key}`"


def _nearest(paths: Iterable[TablePath], table: TablePath) -> list[TablePath]:
    """Paths sharing the longest prefix with ``table`` first; among those, the shallower first."""

    def shared(path: TablePath) -> int:
        count = 0
        for mine, theirs in zip(path, table, strict=False):
            if mine != theirs:
                break
            count += 1
        return count

    ranked = sorted(paths, key=lambda path: (-shared(path), len(path), path))
    best = (shared(ranked[0]), len(ranked[0]))
    return [path for path in ranked if (shared(path), len(path)) == best]


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as ``Model | None``; ``None`` for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(models) == 1:
            return nested_model(models[0])
    return None


def describe_errors(
    exc: ValidationError, *, fields_only: bool = False, keys: KeyMap | None = None, at: TablePath = ()
) -> list[str]:
    """``penn_foster.program_id: field required``: locations and reasons, never input values.

    With ``keys`` (the tables of the model validated at ``at``), an unknown field also says which
    key was likely meant.
    """
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        if fields_only and not loc:
            continue
        where = ""
        for part in loc:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        if error["type"] == "missing":
            reason = "field required"
        elif error["type"] == "extra_forbidden":
            table = (*at, *(str(part) for part in loc[:-1] if isinstance(part, str)))
            reason = keys.unknown(table, str(loc[-1])) if keys is not None else "unknown field"
        else:
            reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {reason}" if where else reason)
    return lines
