"""Workers that run many jobs: the same records as a fresh process per job, and one model's crash
or hang costs only its own record."""

import pytest

from difftest import isolation
from difftest.isolation import run_isolated
from difftest.jobs import Job
from difftest.synthetic import model_seed

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def _synthetic(tmp_path, converter: str, index: int) -> Job:
    return Job(
        campaign="w",
        model_id=f"syn-n020-{index:04d}",
        source="synthetic",
        name=["conv2d", "softmax", "matmul"][index % 3],
        framework="torch",
        converter=converter,
        nodes=20,
        seed=model_seed(3, 20, index),
        n_inputs=3,
        graph_dir=str(tmp_path / "graphs"),
        onnx_dir=str(tmp_path / "onnx"),
    )


def _probe(name: str) -> Job:
    return Job(
        campaign="w",
        model_id=f"probe-{name}",
        source="probe",
        name=name,
        framework="torch",
        converter="torchscript",
        n_inputs=2,
    )


def _outputs(tmp_path, records: list[dict]) -> list[tuple]:
    """Each record and the bytes of its ONNX and graph files."""
    return [
        (
            r,
            (tmp_path / "onnx" / f"{r['model_id']}--{r['converter']}.onnx").read_bytes(),
            (tmp_path / r["graph_file"]).read_bytes(),
        )
        for r in records
    ]


@pytest.mark.slow
def test_a_worker_gives_what_a_fresh_process_per_job_gives(tmp_path, monkeypatch):
    # dynamo's second export in a worker uses the torchlib registry built by the first;
    # tf2onnx is left out: its folded-constant names differ between runs even in fresh processes
    jobs = [_synthetic(tmp_path, c, i) for c in ("dynamo", "torchscript") for i in range(2)]
    isolation.stop_workers()
    reused = _outputs(tmp_path, [run_isolated(job, timeout_s=300) for job in jobs])
    monkeypatch.setattr(isolation, "JOBS_PER_WORKER", 1)  # a new worker for every job
    fresh = _outputs(tmp_path, [run_isolated(job, timeout_s=300) for job in jobs])
    assert all(r["outcome"] not in ("crash", "hang") for r, _, _ in reused)
    assert reused == fresh


@pytest.mark.slow
def test_a_crash_and_a_hang_cost_only_their_own_record(tmp_path):
    isolation.stop_workers()
    before = run_isolated(_probe("ok-relu"), timeout_s=60)
    crash = run_isolated(_probe("native-segfault"), timeout_s=60)
    after_crash = run_isolated(_probe("ok-relu"), timeout_s=60)
    hang = run_isolated(_probe("hang"), timeout_s=5)
    after_hang = run_isolated(_probe("ok-relu"), timeout_s=60)
    assert (crash["outcome"], crash["error_type"], crash["stage"]) == ("crash", "SIGSEGV", "source")
    assert (hang["outcome"], hang["stage"]) == ("hang", "source")
    assert before == after_crash == after_hang and before["outcome"] == "success"
