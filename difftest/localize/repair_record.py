"""What a repair did, step by step: the record the report and the commands print.

A *targeted* step changed the converted model itself (weights, attributes, a node); a
*workaround* step is the source converted again with other settings, which leaves the converted
model as it was. Each step keeps the fault it addressed, the change, how it was verified and on
how many inputs, and whether it holds on fresh inputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import onnx

TARGETED, WORKAROUND = "targeted", "workaround"


@dataclass
class RepairStep:
    """One accepted change: the fault it addresses, what was changed, how it was checked."""

    stage: str  # parameters | precision | hyper-parameters | graph | settings
    node: str
    fault: str
    change: str
    kind: str  # targeted | workaround
    verified: str
    inputs: int
    held_out: bool | None = None  # also holds on fresh inputs (None: not checked)
    held_out_inputs: int = 0


@dataclass
class RepairResult:
    """``model`` is the converted model after the targeted repairs (the input model itself when
    none was accepted); a workaround model is kept apart in ``workaround``."""

    model: onnx.ModelProto
    steps: list[RepairStep] = field(default_factory=list)
    agrees_before: bool = False
    agrees_after: bool = False
    output_errors_after: list[float] = field(default_factory=list)
    held_out_agrees: bool | None = None
    held_out_inputs: int = 0
    workaround: onnx.ModelProto | None = None
    workaround_agrees: bool | None = None

    @property
    def targeted(self) -> list[RepairStep]:
        return [s for s in self.steps if s.kind == TARGETED]

    @property
    def changed(self) -> bool:
        """Whether the converted model itself was changed."""
        return bool(self.targeted)

    def summary(self) -> str:
        """One line: what the targeted repairs achieved, and the workaround apart."""
        if not self.changed:
            line = "no targeted repair: the converted model is unchanged"
        else:
            verdict = "outputs agree" if self.agrees_after else "outputs still differ"
            line = f"{len(self.targeted)} targeted repair(s), {verdict}"
            if self.held_out_agrees is not None:
                held = "agree" if self.held_out_agrees else "DIFFER"
                line += f"; on {self.held_out_inputs} fresh input(s) they {held}"
        if self.workaround is not None:
            how = "agrees" if self.workaround_agrees else "still differs"
            line += f"; workaround (not a repair of this model): a re-conversion that {how}"
        return line

    def to_dict(self) -> dict:
        return {
            "agrees_before": self.agrees_before,
            "agrees_after": self.agrees_after,
            "changed": self.changed,
            "targeted_steps": len(self.targeted),
            "summary": self.summary(),
            "held_out_agrees": self.held_out_agrees,
            "held_out_inputs": self.held_out_inputs,
            "workaround_agrees": self.workaround_agrees,
            "steps": [asdict(s) for s in self.steps],
            "output_errors_after": [
                e if np.isfinite(e) else "inf" for e in self.output_errors_after
            ],
        }
