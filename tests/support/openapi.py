"""OpenAPI 3.0 response schemas as plain JSON Schema, for generating responses with hypothesis-jsonschema.

OpenAPI 3.0 is JSON Schema with a few differences that a JSON Schema generator would get wrong:
``nullable: true`` instead of a ``"null"`` type, ``$ref`` into ``components``, and ``allOf`` used
to *extend* a record (``OrderWithIncludes`` = ``Order`` + includes) even though each part says
``additionalProperties: false``, which in JSON Schema would make the combination unsatisfiable.
Eduframe's document also requires fields it does not describe (``User.slug``); a closed object
then admits them with any value, since the spec says they are sent but not what they hold.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]

# Keywords that only document (or only matter to requests) and that JSON Schema generators do not need.
_DOCUMENTATION = frozenset({"description", "example", "readOnly", "writeOnly", "discriminator", "title"})
# JSON has no integer bounds, but a real API's ids are 64-bit (and orjson reads larger ones as floats).
_INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}


class OpenApi:
    """A loaded OpenAPI 3.0 document, answering "what may this operation return?"."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._components: dict[str, Schema] = document.get("components", {}).get("schemas", {})

    def response_schema(self, path: str, method: str, status: str) -> Schema:
        """The JSON Schema of one operation's JSON answer with ``status``."""
        operation = self.document["paths"][path][method]
        content = operation["responses"][status]["content"]["application/json"]
        return self.to_json_schema(content["schema"])

    def to_json_schema(self, node: Schema) -> Schema:
        return self._convert(node, frozenset())

    def _convert(self, node: Schema, seen: frozenset[str]) -> Schema:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                raise ValueError(f"schema {name} refers to itself; give it a depth bound first")
            return self._convert(self._components[name], seen | {name})
        out = {key: copy.deepcopy(value) for key, value in node.items() if key not in _DOCUMENTATION}
        nullable = out.pop("nullable", False)
        if out.get("type") == "integer":
            out = {**_INT64, **out}
        if "allOf" in out:
            out = {**_extend([self._convert(part, seen) for part in out.pop("allOf")]), **out}
        if "properties" in out:
            out["properties"] = {name: self._convert(sub, seen) for name, sub in out["properties"].items()}
        if out.get("additionalProperties") is False:
            undescribed: Schema = {name: {} for name in out.get("required", [])}
            out["properties"] = {**undescribed, **out.get("properties", {})}
        if isinstance(out.get("items"), dict):
            out["items"] = self._convert(out["items"], seen)
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = self._convert(out["additionalProperties"], seen)
        for key in ("oneOf", "anyOf"):
            if key in out:
                out[key] = [self._convert(sub, seen) for sub in out[key]]
        return {"anyOf": [out, {"type": "null"}]} if nullable else out


def _extend(parts: list[Schema]) -> Schema:
    """``allOf`` as OpenAPI means it here: one object with every part's properties and requirements."""
    merged: Schema = {"type": "object", "properties": {}, "required": []}
    closed = False
    for part in parts:
        if part.get("type", "object") != "object" or "anyOf" in part:
            raise ValueError("allOf of something other than plain objects")
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += [name for name in part.get("required", []) if name not in merged["required"]]
        closed = closed or part.get("additionalProperties") is False
    if closed:
        merged["additionalProperties"] = False
    return merged
