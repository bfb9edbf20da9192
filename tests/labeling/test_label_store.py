"""The label store: codebook validation, atomic saves under kill -9, concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from convfail.dataset import load_study, read_csv
from convfail.errors import ConvfailError
from convfail.records import LABEL_COLUMNS
from labeling.store import LabelError, LabelStore, check_rater_name

WRITER = """
import sys
from pathlib import Path
from convfail.codebook import load_codebook
from labeling.store import LabelStore
study, rater, first, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = LabelStore(study, rater, load_codebook())
note = "x" * 4000
for i in range(count):
    number = first + (i % 5)
    store.save("pytorch/pytorch", number, {"cause": "typo", "note": f"{i} {note}"})
    print(i, flush=True)
"""


def test_invalid_codes_are_refused_and_nothing_is_written(demo_study, codebook):
    store = LabelStore(demo_study, "alice", codebook)
    with pytest.raises(LabelError, match="'crashed' is not a symptom of codebook issta24-1"):
        store.save("pytorch/pytorch", 1, {"symptom": "crashed"})
    assert not store.path.exists()
    store.save("pytorch/pytorch", 1, {"cause": "type_problem", "subcause": "tensor"})
    before = store.path.read_bytes()
    with pytest.raises(LabelError, match="'external' is not a sub-cause of cause 'type_problem'"):
        store.save("pytorch/pytorch", 1, {"subcause": "external"})
    with pytest.raises(LabelError, match="not a label field"):
        store.save("pytorch/pytorch", 1, {"codebook_version": "x"})
    assert store.path.read_bytes() == before


def test_changing_the_cause_drops_a_foreign_subcause(demo_study, codebook):
    store = LabelStore(demo_study, "alice", codebook)
    store.save("pytorch/pytorch", 1, {"cause": "incompatibility", "subcause": "external"})
    row = store.save("pytorch/pytorch", 1, {"cause": "typo"})
    assert row["subcause"] == "" and row["cause"] == "typo"
    assert load_study("demo", codebook).labels["alice"].iloc[0]["subcause"] == ""


def test_rater_names_become_safe_file_names():
    assert check_rater_name("pilot_r1") == "pilot_r1"
    for bad in ("../x", "a/b", "", ".hidden", "x.csv"):
        with pytest.raises(ConvfailError):
            check_rater_name(bad)


def test_concurrent_saves_from_threads_keep_every_change(demo_study, codebook):
    """Like many tabs of one rater: every thread's change survives, the file stays valid."""
    stores = [LabelStore(demo_study, "alice", codebook) for _ in range(6)]
    fields = [("location", "export"), ("symptom", "crash"), ("cause", "typo"), ("note", "n")]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for number in range(1, 6):
                field, value = fields[index % len(fields)]
                stores[index].save(
                    "pytorch/pytorch",
                    number,
                    {field: f"{value}{index}" if field == "note" else value},
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    labels = load_study("demo", codebook).labels["alice"]
    assert len(labels) == 5
    assert set(labels["location"]) == {"export"} and set(labels["symptom"]) == {"crash"}
    assert set(labels["cause"]) == {"typo"}
    assert set(labels["note"]) <= {"n2", "n3"} and set(labels["note"]) != {""}


def _writer(study: Path, rater: str, first: int, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(study), rater, str(first), str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def test_concurrent_saves_from_processes_lose_nothing(demo_study, codebook):
    """Two servers of the same rater: the file lock serialises their read-modify-writes."""
    store = LabelStore(demo_study, "alice", codebook)
    a = _writer(demo_study, "alice", 1, 40)
    b = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER.replace('"pytorch/pytorch"', '"onnx/tensorflow-onnx"'),
            str(demo_study),
            "alice",
            "10",
            "40",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert a.wait(120) == 0 and b.wait(120) == 0
    labels = store.read()
    assert {k for k in labels if k[0] == "pytorch/pytorch"} == {
        ("pytorch/pytorch", n) for n in range(1, 6)
    }
    assert len([k for k in labels if k[0] == "onnx/tensorflow-onnx"]) == 5


def test_killed_writer_leaves_a_whole_file(demo_study, codebook):
    """kill -9 at random moments of a save loop: the file is always the old or the new one."""
    store = LabelStore(demo_study, "alice", codebook)
    store.save("pytorch/pytorch", 1, {"cause": "typo"})
    for round_ in range(8):
        writer = _writer(demo_study, "alice", 1, 10_000)
        assert writer.stdout is not None
        assert writer.stdout.readline()  # at least one save done
        time.sleep(0.01 * (round_ % 4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        frame = read_csv(store.path, LABEL_COLUMNS)
        assert 1 <= len(frame) <= 5
        assert set(frame["cause"]) == {"typo"}
        assert all(note.endswith("x" * 4000) for note in frame["note"] if note)
    assert sorted(p.name for p in store.path.parent.glob("*.csv")) == ["alice.csv"]
