"""The source's own noise floor, and the verdict policy it gives a matrix's float32 paths.

A deep float32 network does not give bit-identical logits when only the batch size or the
thread count changes: the kernels split their sums differently and round in another order.
The reference logits come from one setting (batches of :data:`~runtimes.BATCH`, the matrix's
threads); the noise floor is the same source model on the same images under the
:data:`VARIANTS`, compared with the reference by the project's comparator
(:func:`difftest.compare.comparison`), raw differences included.

The matrix judges a conversion by an ordinary ``RTOL,ATOL`` policy of :mod:`convfail.verdicts`:
the default float32 ``rtol`` and the smallest ``atol`` (at least the default's, rounded up to
two significant digits) under which every difference the source showed against itself passes.
A ``mismatch`` then means that the conversion moved some logit further than re-running the
source with another batch size or thread count does; a source that repeats itself exactly
gives the default policy back.
"""

from __future__ import annotations

import math
import time

import numpy as np

from convfail.verdicts import DEFAULT_TOLERANCES, Policy, parse_policy
from difftest.compare import comparison
from difftest.matrix.hops import Artifact
from difftest.matrix.runtimes import BATCH, Runtime

FLOAT32 = "float32"
# (batch size, extra threads): batches of 10 (another GEMM blocking than the full batch's, at a
# tenth of batch 1's cost: Keras' per-step overhead made batch 1 cost 228 s CPU on MobileNetV2,
# ten times its reference run), and one thread more in full batches
VARIANTS = ((10, 0), (BATCH, 1))


def variant_name(batch: int, extra_threads: int, threads: int) -> str:
    return f"batch {batch}, {threads + extra_threads} thread(s)"


def measure_noise(
    runtime: Runtime, artifact: Artifact, images: np.ndarray, reference: np.ndarray, threads: int
) -> dict:
    """The source against itself under every variant: the comparison, the variants, the
    policy it gives and the CPU seconds it took (``runtime`` is the source framework's)."""
    started = time.process_time()
    check = comparison(parse_policy("default"))
    names = []
    for batch, extra in VARIANTS:
        if extra and not runtime.honours_threads:
            continue
        logits, _, _ = runtime.timed_predict(artifact, images, threads + extra, batch)
        check.add([reference], [logits])
        names.append(variant_name(batch, extra, threads))
    measured = check.to_dict()
    return {
        "variants": names,
        "comparison": measured,
        "policy": noise_policy(measured).name,
        "cpu_seconds": round(time.process_time() - started, 1),
    }


def noise_policy(noise_comparison: dict) -> Policy:
    """The default float32 policy with ``atol`` widened to the source's own differences."""
    rtol, atol = DEFAULT_TOLERANCES[FLOAT32]
    pairs = (noise_comparison.get("differences") or {}).get(FLOAT32, [])
    needed = max([atol, *(diff - rtol * magnitude for diff, magnitude in pairs)])
    return parse_policy(f"{rtol:g},{_round_up(needed):g}")


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (a policy name that reads back exactly)."""
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return math.ceil(round(value / scale, 9)) * scale
