"""What to mine: a repository with label and state filters, and the study's two presets.

Labels are matched as *any of* (GitHub's GraphQL ``filterBy.labels`` semantics); excluded labels
are not a fetch filter (GitHub has none) but are applied when the population is built, so the
records keep every issue GitHub returned and the exclusion is visible in the population file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from convfail.errors import ConvfailError

STATES = ("open", "closed", "all")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Scope:
    repository: str
    labels: tuple[str, ...] = ()
    state: str = "closed"
    exclude_labels: tuple[str, ...] = field(default=(), compare=False)
    converter: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not REPOSITORY.match(self.repository):
            raise ConvfailError(
                f"not a repository name: {self.repository!r}", "write it as OWNER/NAME"
            )
        if self.state not in STATES:
            raise ConvfailError(f"unknown state {self.state!r}", f"choose from {', '.join(STATES)}")

    def renamed(self, repository: str) -> Scope:
        """The same filters on the repository's current name."""
        return Scope(repository, self.labels, self.state, self.exclude_labels, self.converter)

    def out_of_scope_reason(self, record: dict[str, Any]) -> str:
        """Why GitHub's filters no longer return ``record`` (for a retired record's tombstone)."""
        if self.state != "all" and record["state"] != self.state:
            return "reopened" if record["state"] == "open" else f"now {record['state']}"
        return "labels changed"

    @property
    def owner(self) -> str:
        return self.repository.split("/")[0]

    @property
    def name(self) -> str:
        return self.repository.split("/")[1]

    @property
    def key(self) -> str:
        """Identifies the fetch filters (not the exclusions) for watermarks and cursors."""
        return f"{self.repository}|{self.state}|{','.join(sorted(self.labels))}"

    @property
    def graphql_states(self) -> list[str] | None:
        return None if self.state == "all" else [self.state.upper()]

    def fetched(self, record: dict[str, Any]) -> bool:
        """Would GitHub return this record for the scope's filters?"""
        if self.state != "all" and record["state"] != self.state:
            return False
        return not self.labels or bool(set(self.labels) & set(record["labels"]))

    def in_population(self, record: dict[str, Any]) -> bool:
        return self.fetched(record) and not set(self.exclude_labels) & set(record["labels"])

    def describe(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "state": self.state,
            "labels_any_of": list(self.labels),
            "exclude_labels": list(self.exclude_labels),
        }


PRESETS: dict[str, Scope] = {
    "torch.onnx": Scope(
        "pytorch/pytorch", ("module: onnx", "onnx"), "closed", converter="torch.onnx"
    ),
    "tf2onnx": Scope(
        "onnx/tensorflow-onnx",
        (),
        "closed",
        ("pending on user response", "question"),
        converter="tf2onnx",
    ),
}


def resolve(
    presets: tuple[str, ...],
    repositories: tuple[str, ...],
    labels: tuple[str, ...],
    exclude: tuple[str, ...],
    state: str | None,
) -> list[Scope]:
    """The scopes a command works on: presets (all by default) or explicit repositories."""
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise ConvfailError(
            f"unknown preset(s): {', '.join(unknown)}", f"choose from {', '.join(PRESETS)}"
        )
    scopes = [PRESETS[p] for p in presets]
    for repository in repositories:
        if not REPOSITORY.match(repository):
            raise ConvfailError(f"not a repository name: {repository!r}", "write it as OWNER/NAME")
        preset = next((p for p in PRESETS.values() if p.repository == repository), None)
        scopes.append(
            Scope(
                repository,
                tuple(labels),
                state or "closed",
                tuple(exclude),
                converter=preset.converter if preset else repository.split("/")[1],
            )
        )
    if not scopes:
        scopes = list(PRESETS.values())
    if state:
        scopes = [
            Scope(s.repository, s.labels, state, s.exclude_labels, s.converter) for s in scopes
        ]
    return scopes
