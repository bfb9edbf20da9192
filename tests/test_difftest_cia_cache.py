"""The dynamo exporter's operator collection, cached per registry: the same set, the same ONNX
bytes, and a newly registered composite operator is seen."""

import pytest

from difftest import cia_cache
from difftest.converters import get_converter
from difftest.jobs import Job
from difftest.sources import build_source
from difftest.synthetic import model_seed

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")

from torch._export import utils  # noqa: E402  (only once torch is known to be installed)
from torch.export import decomp_utils, exported_program  # noqa: E402


def _install(patch: pytest.MonkeyPatch):
    """Install the cache; ``patch`` puts the exporter's own functions back after the test."""
    for module in (exported_program, decomp_utils):
        patch.setattr(module, "_collect_all_valid_cia_ops", utils._collect_all_valid_cia_ops)
    patch.setattr(cia_cache, "_installed", False)
    cia_cache.install()
    assert decomp_utils._collect_all_valid_cia_ops is not utils._collect_all_valid_cia_ops
    return exported_program._collect_all_valid_cia_ops


def _export(index: int) -> bytes:
    job = Job(
        campaign="c",
        model_id=f"syn-n020-{index:04d}",
        source="synthetic",
        name=["batch_norm", "gelu"][index],
        framework="torch",
        converter="dynamo",
        nodes=20,
        seed=model_seed(5, 20, index),
    )
    return get_converter("dynamo").convert(build_source(job), 17).SerializeToString()


@pytest.mark.slow
def test_exports_are_byte_identical_with_the_cache(monkeypatch):
    plain = [_export(i) for i in range(2)]
    _install(monkeypatch)
    assert [_export(i) for i in range(2)] == plain


def test_the_cached_set_is_the_exporters_and_follows_new_registrations(monkeypatch):
    cached = _install(monkeypatch)
    first = cached()
    assert first == utils._collect_all_valid_cia_ops()
    assert cached() is first  # nothing registered in between: not walked again
    library = torch.library.Library("convfail_cia_test", "DEF")
    library.define("twice(Tensor x) -> Tensor")
    library.impl("twice", lambda x: x * 2, "CompositeImplicitAutograd")
    after = cached()
    assert torch.ops.convfail_cia_test.twice.default in after
    assert after == utils._collect_all_valid_cia_ops()
