"""What one unit of work is: one source model through one converter.

A :class:`Job` is plain data (it crosses process and machine boundaries: pickled to worker
processes and to Dask workers), names everything needed to rebuild the model from scratch, and
imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from convfail.campaign_files import result_key


@dataclass(frozen=True)
class Job:
    """One model (``source``/``name``/``nodes``/``seed``) through one ``converter``."""

    campaign: str
    model_id: str
    source: str  # synthetic | zoo | probe
    name: str  # zoo or probe name; forced operator for synthetic graphs ("" for none)
    framework: str  # torch | tensorflow
    converter: str
    opset: int = 17
    seed: int = 0
    nodes: int = 0
    n_inputs: int = 10
    policy: str = "default"  # verdict policy (convfail.verdicts.parse_policy)
    onnx_dir: str = ""  # where the ONNX file goes ("" = do not keep it)
    graph_dir: str = ""  # where the graph-structure JSON goes ("" = do not write it)

    @property
    def key(self) -> str:
        """Unique within a campaign: the model and the converter."""
        return result_key(self.model_id, self.converter)

    def to_dict(self) -> dict:
        return asdict(self)
