"""What Lambda says about layers, apart from any store: the errors and their messages, the ``LayerVersion``
record and the response shapes it gives, and the limits on a function's ``Layers`` (at most 5, one
version of a layer each, 250 MB unzipped with the code) and on layer names.

``lambdalab.packages.layers`` re-exports all of it; import from there.

Rules: pure: no files, no processes; errors are ``LayerError`` (a ``ConfigError``) carrying Lambda's
``code``, ``status`` and exact ``message``, plus a lambdalab ``hint`` where one helps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalab.errors import ConfigError
from lambdalab.packages.limits import UNZIPPED_MAX_BYTES

MAX_LAYERS = 5
# botocore's LayerName (a name or a layer ARN), matched whole (fullmatch: no "$" loophole before a newline).
NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
)
_NAME = re.compile(NAME_PATTERN)
# a layer ARN, with or without its version
LAYER_ARN = re.compile(
    r"arn:(aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9-_]+)(:(?P<version>[0-9]+))?"
)


# -------------------------------------------------------------------------------------------- errors
class LayerError(ConfigError):
    """A layer request Lambda would refuse; ``code``/``status``/``message`` are what Lambda sends."""

    code = "InvalidParameterValueException"
    status = 400

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message} ({hint})" if hint else message)
        self.message = message
        self.hint = hint


class LayerValidationError(LayerError):
    """A malformed layer name or ARN (Lambda's ``ValidationException``)."""

    code = "ValidationException"


class UnknownLayerError(LayerError):
    """A function references a layer version that does not exist here (no published layer, no mapping)."""


class LayerVersionNotFoundError(LayerError):
    """GetLayerVersion of a version that does not exist (``ResourceNotFoundException``)."""

    code = "ResourceNotFoundException"
    status = 404


# -------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class LayerVersion:
    """One layer version: its ARN, its unpacked files (``content``) and what Lambda reports about it."""

    name: str
    version: int
    arn: str
    content: Path
    code_sha256: str
    code_size: int
    unzipped_size: int
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    created_date: str = ""
    source: str = "published"  # "published", "local" (a path on a function) or "layer-map"

    @property
    def layer_arn(self) -> str:
        return self.arn.rsplit(":", 1)[0]

    def describe(self) -> dict[str, Any]:
        """PublishLayerVersion's / GetLayerVersion's response (without ``Content.Location``)."""
        out: dict[str, Any] = {
            "Content": {"CodeSha256": self.code_sha256, "CodeSize": self.code_size},
            "LayerArn": self.layer_arn,
            "LayerVersionArn": self.arn,
            "Description": self.description,
            "CreatedDate": self.created_date,
            "Version": self.version,
        }
        return out | self._compatibility()

    def list_item(self) -> dict[str, Any]:
        """A ``LayerVersionsListItem`` (ListLayerVersions, ListLayers' ``LatestMatchingVersion``)."""
        return {
            "LayerVersionArn": self.arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created_date,
        } | self._compatibility()

    def function_layer(self) -> dict[str, Any]:
        """The entry of a function's ``Layers`` (GetFunction, CreateFunction's answer)."""
        return {"Arn": self.arn, "CodeSize": self.code_size}

    def _compatibility(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.compatible_runtimes:
            out["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.compatible_architectures:
            out["CompatibleArchitectures"] = list(self.compatible_architectures)
        if self.license_info is not None:
            out["LicenseInfo"] = self.license_info
        return out


# -------------------------------------------------------------------------------------------- limits
def check_layer_refs(refs: Sequence[str | Path]) -> None:
    """Lambda's checks on a function's ``Layers`` list before any is looked up: at most 5, one version each."""
    if len(refs) > MAX_LAYERS:
        raise LayerError(f"Cannot reference more than {MAX_LAYERS} layers.")
    seen: dict[str, str] = {}
    for ref in refs:
        match = LAYER_ARN.fullmatch(str(ref))
        if match is None or match.group("version") is None:
            continue
        layer = str(ref).rsplit(":", 1)[0]
        if layer in seen:
            raise LayerError(
                "Two different versions of the same layer are not allowed to be referenced in the "
                f"same function. {seen[layer]} and {ref} are versions of the same layer."
            )
        seen[layer] = str(ref)


def check_total_size(code_bytes: int, layers: Iterable[LayerVersion]) -> int:
    """The unzipped size of the code plus its layers; Lambda's error past 262,144,000 bytes."""
    total = code_bytes + sum(layer.unzipped_size for layer in layers)
    if total > UNZIPPED_MAX_BYTES:
        raise LayerError(
            f"Function code combined with layers exceeds the maximum allowed size of "
            f"{UNZIPPED_MAX_BYTES} bytes. The actual size is {total} bytes."
        )
    return total


def validate_name(name: str, field: str = "layerName") -> None:
    """Lambda's check of a layer name (or layer ARN): 1 to 140 characters of its pattern."""
    if len(name) > 140:
        raise LayerValidationError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy "
            "constraint: Member must have length less than or equal to 140"
        )
    if not name or _NAME.fullmatch(name) is None:
        raise LayerValidationError(
            f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
