"""The campaign's verdict beside the localizer's, and why they differ when they do.

Two judges look at a converted model. A campaign (and ``status``) judges the final outputs with
a verdict policy (:mod:`convfail.verdicts`: ``atol + rtol * |source|``). The localizer judges
every value, intermediate ones too, with its scale-aware tolerance (:mod:`.tolerance`:
``rtol * (|source| + RMS of the tensor)``), which forgives round-off on large or cancelling
values that a policy calls a mismatch, and is stricter than a policy's absolute floor near
zero. ``localize`` reports both, on the same inputs, and says which rule made them differ; on
a campaign record it also compares with the recorded outcome, which may have come from more
inputs.
"""

from __future__ import annotations

import numpy as np

from convfail.campaign_files import SUCCESS
from convfail.verdicts import Policy
from difftest.compare import compare_outputs
from difftest.localize.tolerance import Tolerance


def policy_verdict(
    expected: list[list[np.ndarray]],
    actual: list[list[np.ndarray]],
    policy: Policy,
    tolerance: Tolerance,
    localizer_agrees: bool,
    recorded: dict | None = None,
) -> dict:
    """The ``verdict`` section of a localization report.

    ``recorded``: ``outcome``, ``policy`` and ``n_inputs`` of the campaign record, if any."""
    result = compare_outputs(expected, actual, policy)
    outcome = result.verdict(policy)
    section = {
        "policy": policy.name,
        "policy_rule": policy.describe(),
        "outcome": outcome,
        "localizer": "agrees" if localizer_agrees else "differs",
        "localizer_rule": f"{tolerance.precision} rtol {tolerance.relative:g} of (|value| + RMS)",
        "max_abs_diff": result.max_abs_diff,
        "nonfinite_mismatches": result.nonfinite_mismatches,
        "inputs": len(expected),
        "why": [],
    }
    if (outcome == SUCCESS) != localizer_agrees:
        section["why"].append(_why_judges_differ(outcome, result.max_abs_diff))
    if recorded and recorded.get("outcome") != outcome:
        section["why"].append(
            f"the campaign recorded {recorded['outcome']} under policy "
            f"{recorded.get('policy')} on {recorded.get('n_inputs')} input(s); here "
            f"{len(expected)} input(s) under {policy.name} give {outcome}"
            + (" (pass --inputs to compare on as many)" if recorded.get("n_inputs") else "")
        )
    return section


def _why_judges_differ(outcome: str, max_abs_diff: float) -> str:
    if outcome != SUCCESS:
        return (
            f"the policy rejects a difference of {max_abs_diff:.3g} beyond atol + rtol*|source|, "
            "which the localizer allows because its tolerance grows with the tensor's RMS: "
            "round-off on large or cancelling values, not a divergence it can place"
        )
    return (
        "the localizer's tolerance is tighter than the policy's absolute floor near zero: it "
        "places a divergence the policy forgives"
    )
