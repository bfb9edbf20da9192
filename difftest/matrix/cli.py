"""``convfail difftest matrix`` and ``matrix-train``: the conversion matrix from the shell."""

from __future__ import annotations

from collections import Counter

import click

from difftest.matrix.images import N_TEST
from difftest.matrix.rejudge import rejudge_matrix
from difftest.matrix.runner import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, results_path, run_matrix
from difftest.matrix.runtimes import TVM_IMAGES
from difftest.matrix.torch_archs import ARCHITECTURES
from difftest.matrix.training import train_all


def _model_option(verb: str):
    """The --model choice shared by `matrix` and `matrix-train`."""
    return click.option(
        "--model",
        "models",
        multiple=True,
        type=click.Choice(sorted(ARCHITECTURES)),
        help=f"Model(s) to {verb}, repeatable [default: all three].",
    )


@click.command("matrix")
@click.argument("name")
@_model_option("convert")
@click.option("--images", default=N_TEST, show_default=True, help="Held-out images per model.")
@click.option("--threads", default=1, show_default=True, help="Threads per runtime.")
@click.option(
    "--timeout",
    "timeout_s",
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds per unit (a model along one path) before it counts as a hang.",
)
@click.option(
    "--memory-mb",
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Address-space cap per unit process (0: none).",
)
@click.option(
    "--workers", default=1, show_default=True, help="Units at a time, each a process of its own."
)
@click.option(
    "--tvm-images",
    default=TVM_IMAGES,
    show_default=True,
    help="Images TVM reads (the first ones): it runs untuned, at 0.1-0.6 s per image.",
)
@click.option("--fresh", is_flag=True, help="Delete earlier results of this matrix first.")
@click.option("--limit", type=int, help="Run at most this many pending units, then stop.")
def matrix_command(
    name: str,
    models: tuple[str, ...],
    images: int,
    threads: int,
    timeout_s: float,
    memory_mb: int,
    workers: int,
    tvm_images: int,
    fresh: bool,
    limit: int | None,
) -> None:
    """Convert every model along every path and measure label changes, into
    data/difftest/NAME/matrix.jsonl; rerun the same command to resume after a stop.

    \b
    Example:
      convfail difftest matrix-train
      convfail difftest matrix conversions
    """
    records = run_matrix(
        name,
        list(models or ARCHITECTURES),
        images,
        threads,
        timeout_s,
        memory_mb,
        fresh,
        limit,
        log=click.echo,
        workers=workers,
        tvm_images=tvm_images,
        require_weights=True,
    )
    _summary(name, records)


def _summary(name: str, records: list[dict]) -> None:
    counts = Counter(r["outcome"] for r in records)
    click.echo(
        f"{name}: {len(records)} record(s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    click.echo(f"  {results_path(name)}")


@click.command("matrix-rejudge")
@click.argument("name")
@_model_option("re-judge")
@click.option(
    "--timeout",
    "timeout_s",
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds per source unit before it counts as a hang.",
)
@click.option(
    "--memory-mb",
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Address-space cap per source unit process (0: none).",
)
def matrix_rejudge_command(
    name: str, models: tuple[str, ...], timeout_s: float, memory_mb: int
) -> None:
    """Measure the noise floor of each source of matrix NAME (the sources run again, nothing is
    converted) and judge its float32 conversions against it, in place.

    \b
    Example:
      convfail difftest matrix-rejudge conversions
    """
    _summary(name, rejudge_matrix(name, list(models), timeout_s, memory_mb, log=click.echo))


@click.command("matrix-train")
@_model_option("train")
@click.option("--threads", default=2, show_default=True, help="Training threads.")
def matrix_train_command(models: tuple[str, ...], threads: int) -> None:
    """Train the matrix's models on the MNIST split (seeded), once: cached in .cache/matrix/."""
    for card in train_all(list(models or ARCHITECTURES), threads, log=click.echo):
        click.echo(
            f"{card['model']}: held-out accuracy {card['test_accuracy']:.3f} after "
            f"{len(card['epochs'])} epoch(s), {card['train_seconds']:.0f} s"
        )
