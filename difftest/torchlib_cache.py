"""Build the dynamo exporter's table of ATen-to-ONNX functions once per process, not per export.

``torch.onnx.export(dynamo=True)`` rebuilds its registry of torchlib functions on every call,
re-reading and re-parsing the Python source of about 500 onnxscript functions: about a third of
a campaign's dynamo export time (cProfile, torch 2.13: 2.6 s of 6.6 s a model under load). The
registry is a pure function of the installed torch and onnxscript and of the opset, and the
exporter only reads it, so a copy of the first one built is the same table: the exported graph
is unchanged (the tests compare the bytes). A worker that runs many jobs (see
:mod:`difftest.isolation`) calls :func:`install` once.
"""

from __future__ import annotations

_installed = False


def install() -> None:
    """Make ``ONNXRegistry.from_torchlib`` build each opset's registry once and hand out copies."""
    global _installed
    if _installed:
        return
    # torch is an optional extra; import on use
    from torch.onnx._internal.exporter import _registration

    registry_class = _registration.ONNXRegistry
    build = registry_class.from_torchlib.__func__
    built: dict[object, object] = {}

    def from_torchlib(cls, opset_version=_registration._constants.TORCHLIB_OPSET):
        if opset_version not in built:
            built[opset_version] = build(cls, opset_version)
        first = built[opset_version]
        copy = cls()
        copy._opset_version = first._opset_version
        copy.functions = {target: list(metas) for target, metas in first.functions.items()}
        return copy

    registry_class.from_torchlib = classmethod(from_torchlib)
    _installed = True
