"""Adjudication: settle the raters' disagreements into ``labels/final.csv``.

Issues that every adjudicated rater coded are compared dimension by dimension. Where the raters
agree on everything, the agreed label goes to ``final.csv`` as it is (``seed_agreed``); where
they differ, the adjudicator picks the value of each differing dimension on the adjudication
page, which saves through the same atomic, locked store as a rater's own file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from convfail.codebook import Codebook
from convfail.dataset import FINAL_RATER
from convfail.errors import ConvfailError
from convfail.paths import label_file, labels_dir
from convfail.records import LABEL_DIMENSIONS
from labeling.save_api import SaveRequest
from labeling.store import LabelStore

Key = tuple[str, int]


@dataclass(frozen=True)
class Comparison:
    """The raters' labels of one issue that all of them coded."""

    key: Key
    values: dict[str, dict[str, str]]  # rater -> dimension -> value

    @property
    def differing(self) -> list[str]:
        return [
            d for d in LABEL_DIMENSIONS if len({v.get(d, "") for v in self.values.values()}) > 1
        ]

    @property
    def agreed(self) -> dict[str, str]:
        first = next(iter(self.values.values()))
        return {d: first.get(d, "") for d in LABEL_DIMENSIONS if d not in self.differing}


class Adjudication:
    """Compare a set of raters and write the adjudicated labels of a study."""

    def __init__(self, study_path: Path, raters: list[str], codebook: Codebook) -> None:
        if len(raters) < 2:
            raise ConvfailError(
                f"adjudication needs two raters or more, got {', '.join(raters) or 'none'}",
                "pass --raters A,B (label files under labels/)",
            )
        if FINAL_RATER in raters:
            raise ConvfailError(
                "'final' is the adjudicated file, not a rater", "leave it out of --raters"
            )
        missing = [r for r in raters if not label_file(study_path, r).is_file()]
        if missing:
            raise ConvfailError(
                f"no label file for rater(s) {', '.join(missing)} in {labels_dir(study_path)}",
                "check the rater names (file names without .csv)",
            )
        self.raters = raters
        self.codebook = codebook
        self.stores = {r: LabelStore(study_path, r, codebook) for r in raters}
        self.final = LabelStore(study_path, FINAL_RATER, codebook)

    def comparisons(self) -> list[Comparison]:
        labels = {r: s.read() for r, s in self.stores.items()}
        shared = set.intersection(*(set(v) for v in labels.values()))
        return [Comparison(key, {r: labels[r][key] for r in self.raters}) for key in sorted(shared)]

    def disagreements(self) -> list[Comparison]:
        return [c for c in self.comparisons() if c.differing]

    def is_resolved(self, comparison: Comparison, final: dict[Key, dict[str, str]]) -> bool:
        """Every differing dimension has a final value (a sub-cause only if the cause has some)."""
        row = final.get(comparison.key)
        if row is None:
            return False
        for dim in comparison.differing:
            if row.get(dim):
                continue
            if dim == "subcause" and not self.codebook.subcauses(row.get("cause", "")):
                continue
            if dim != "subcause" and not any(v.get(dim) for v in comparison.values.values()):
                continue
            return False
        return True

    def seed_agreed(self) -> int:
        """Write the agreed label of every fully agreed issue not yet in final.csv."""
        with self.final.locked():
            final = self.final.read()
            added = 0
            for comparison in self.comparisons():
                if comparison.differing or comparison.key in final:
                    continue
                row = dict(next(iter(comparison.values.values())))
                row.update(note="", source_file="", source_sheet="", source_row="")
                row["codebook_version"] = self.codebook.version
                final[comparison.key] = row
                added += 1
            if added:
                self.final.write_all(final.values())
        return added

    def decide(self, wanted: SaveRequest) -> dict[str, str]:
        """Save the adjudicator's choice; the issue's first decision also stores the agreed part.

        Like a rater's save, it carries the version it was based on (two adjudicator tabs).
        """
        key = (wanted.repository, wanted.number)
        comparison = next((c for c in self.comparisons() if c.key == key), None)
        if comparison is None:
            raise ConvfailError(
                f"issue {key[0]}#{key[1]} is not coded by all of {', '.join(self.raters)}",
                "adjudicate only issues every rater coded",
            )
        changes = dict(wanted.changes)
        if key not in self.final.read():
            changes = {**comparison.agreed, **changes}
        return self.final.save(key[0], key[1], changes, wanted.base, wanted.seconds, wanted.undo)
