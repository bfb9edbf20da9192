"""Collect torch's preservable composite operators once per operator registry, not twice an export.

``torch.onnx.export(dynamo=True)`` runs the exported program's decompositions, and each run asks
``torch._export.utils._collect_all_valid_cia_ops`` for every functional
CompositeImplicitAutograd operator: a walk over every operator namespace that materialises each
of about 800 dispatcher registrations and checks its schema. It is asked twice an export (the
decomposition table and the split of that table), about 0.09 s of a 20-node model's 0.63 s CPU
(torch 2.13). torch does not cache it because a custom operator registered later would be
missed; the answer depends only on those registrations and the namespaces, so it is kept per
(namespaces, CompositeImplicitAutograd registrations) and recomputed whenever either changes.
The decompositions, and so the exported graph, are the same (the tests compare the set and the
ONNX bytes). A worker (see :mod:`difftest.isolation`) calls :func:`install` once.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Make the exporter's two callers of the collection read it from a per-registry cache."""
    global _installed
    if _installed:
        return
    # torch is an optional extra; import on use
    import torch
    from torch._export import utils
    from torch.export import decomp_utils, exported_program

    collect = utils._collect_all_valid_cia_ops
    cached: dict[tuple, set] = {}

    def collect_cached() -> set:
        key = (
            tuple(torch.ops._dir),
            frozenset(
                torch._C._dispatch_get_registrations_for_dispatch_key("CompositeImplicitAutograd")
            ),
        )
        if key not in cached:
            cached.clear()
            cached[key] = collect()
        return cached[key]

    exported_program._collect_all_valid_cia_ops = collect_cached
    decomp_utils._collect_all_valid_cia_ops = collect_cached
    _installed = True
