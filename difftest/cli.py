"""``convfail difftest``: run, resume and inspect differential-testing campaigns."""

from __future__ import annotations

import os

import click

from convfail.campaign_files import CONFIG_FILE, OUTCOMES, RESULTS_FILE
from convfail.errors import ConvfailError
from convfail.paths import campaign_dir
from difftest.campaign import CampaignConfig, campaign_status, run_campaign, short_counts
from difftest.compare import DEFAULT_TOLERANCE
from difftest.converters import CONVERTERS
from difftest.isolation import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from difftest.localize.cli import (
    localize_command,
    localize_eval_command,
    localize_known_command,
    repair_command,
)
from difftest.matrix.cli import matrix_command, matrix_train_command
from difftest.sources import model_names
from difftest.synthetic import CATALOGUE


def parse_sizes(text: str) -> list[int]:
    """``20`` | ``15,20,30`` | ``15-100/5`` (inclusive range with a step) -> node counts."""
    sizes: list[int] = []
    try:
        for part in text.split(","):
            span, _, step = part.partition("/")
            low, _, high = span.partition("-")
            sizes += list(range(int(low), int(high or low) + 1, int(step or 1)))
    except ValueError:
        raise ConvfailError(
            f"cannot read sizes {text!r}", "write e.g. 20, 15,20,30 or 15-100/5"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ConvfailError(f"no valid sizes in {text!r}", "node counts must be positive")
    return sizes


def _workers_default() -> int:
    return max(1, len(os.sched_getaffinity(0)))


@click.group()
def difftest() -> None:
    """Differential testing of converters: convert, run in ONNX Runtime, compare, classify.

    Results go to data/difftest/<campaign>/results.jsonl (plus graphs/ with the structure of
    every converted model); ONNX files to .cache/difftest/<campaign>/onnx/.
    """


@difftest.command("run")
@click.argument("campaign")
@click.option(
    "--source",
    type=click.Choice(["synthetic", "zoo", "probe"]),
    default="synthetic",
    show_default=True,
    help="Random graphs, real architectures, or purpose-built probes.",
)
@click.option(
    "--converter",
    "converters",
    multiple=True,
    type=click.Choice(sorted(CONVERTERS)),
    help="Converter(s) to test, repeatable [default: torchscript].",
)
@click.option(
    "--sizes",
    default="20",
    show_default=True,
    help="Synthetic node counts: 20, 15,20,30 or 15-100/5.",
)
@click.option("--per-size", default=10, show_default=True, help="Synthetic models per size.")
@click.option("--model", "models", multiple=True, help="Zoo/probe model name(s), repeatable.")
@click.option("--seed", default=0, show_default=True, help="Campaign seed (models and inputs).")
@click.option("--opset", default=17, show_default=True, help="ONNX opset to export to.")
@click.option(
    "--inputs", "n_inputs", default=10, show_default=True, help="Random inputs per model."
)
@click.option(
    "--tolerance",
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Max absolute difference allowed (1e-3 is always reported too).",
)
@click.option(
    "--timeout",
    "timeout_s",
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Seconds per model before it counts as a hang.",
)
@click.option(
    "--memory-mb",
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Address-space cap per model process (0: none).",
)
@click.option("--workers", type=int, default=None, help="Parallel models [default: CPU count].")
@click.option("--scheduler", help="Dask scheduler address (tcp://host:8786); default: local pool.")
@click.option("--fresh", is_flag=True, help="Delete earlier results of this campaign first.")
@click.option("--limit", type=int, help="Run at most this many pending models, then stop.")
def run(
    campaign: str,
    source: str,
    converters: tuple[str, ...],
    sizes: str,
    per_size: int,
    models: tuple[str, ...],
    seed: int,
    opset: int,
    n_inputs: int,
    tolerance: float,
    timeout_s: float,
    memory_mb: int,
    workers: int | None,
    scheduler: str | None,
    fresh: bool,
    limit: int | None,
) -> None:
    """Run campaign CAMPAIGN, or resume it: finished models are never redone.

    \b
    Examples:
      convfail difftest run pt20 --sizes 20 --per-size 100
      convfail difftest run both --converter torchscript --converter tf2onnx --sizes 15-100/5
      convfail difftest run zoo --source zoo --model resnet18 --model mobilenet_v2
    """
    config = CampaignConfig(
        name=campaign,
        source=source,
        converters=list(converters or ["torchscript"]),
        sizes=parse_sizes(sizes) if source == "synthetic" else [],
        per_size=per_size,
        models=list(models),
        seed=seed,
        opset=opset,
        n_inputs=n_inputs,
        tolerance=tolerance,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
    )
    _execute(config, workers, scheduler, fresh, limit)


@difftest.command("resume")
@click.argument("campaign")
@click.option("--workers", type=int, default=None, help="Parallel models [default: CPU count].")
@click.option("--scheduler", help="Dask scheduler address; default: local pool.")
def resume(campaign: str, workers: int | None, scheduler: str | None) -> None:
    """Continue CAMPAIGN with the settings saved in its campaign.yaml."""
    saved = campaign_dir(campaign) / CONFIG_FILE
    if not saved.is_file():
        raise ConvfailError(
            f"no campaign named {campaign!r} ({saved} is missing)",
            "start it with `convfail difftest run`",
        )
    _execute(CampaignConfig.read(campaign), workers, scheduler, False, None)


def _execute(
    config: CampaignConfig,
    workers: int | None,
    scheduler: str | None,
    fresh: bool,
    limit: int | None,
) -> None:
    counts = run_campaign(
        config,
        workers=workers or _workers_default(),
        scheduler=scheduler,
        fresh=fresh,
        limit=limit,
    )
    click.echo(f"{config.name}: {sum(counts.values())} result(s): {short_counts(counts)}")
    click.echo(f"  {campaign_dir(config.name) / RESULTS_FILE}")


@difftest.command("status")
@click.argument("campaign")
@click.option("--top", default=10, show_default=True, help="How many unique errors to list.")
def status(campaign: str, top: int) -> None:
    """Outcome counts of CAMPAIGN per converter, and its most frequent unique errors."""
    summary = campaign_status(campaign)
    if summary.torn_tail:
        click.echo(
            f"{summary.path}: the last line is torn and left out; "
            f"`convfail difftest resume {campaign}` cuts it off",
            err=True,
        )
    click.echo(f"{'converter':<20}" + "".join(f"{o[:12]:>13}" for o in OUTCOMES) + f"{'total':>8}")
    for conv, counts in sorted(summary.by_converter.items()):
        click.echo(
            f"{conv:<20}"
            + "".join(f"{counts[o]:>13}" for o in OUTCOMES)
            + f"{sum(counts.values()):>8}"
        )
    click.echo(f"\n{len(summary.signatures)} unique error(s); most frequent:")
    for sig, n in summary.signatures.most_common(top):
        click.echo(f"  {n:>5}  {sig}")


@difftest.command("list")
def list_things() -> None:
    """Converters, model sources and the named zoo/probe models."""
    click.echo(
        "converters: " + ", ".join(f"{n} ({c.framework})" for n, c in sorted(CONVERTERS.items()))
    )
    click.echo(f"synthetic operators ({len(CATALOGUE)}): {', '.join(CATALOGUE)}")
    for source in ("zoo", "probe"):
        for framework in ("torch", "tensorflow"):
            try:
                names = model_names(source, framework)
            except ImportError:
                names = ["(framework not installed)"]
            click.echo(f"{source} [{framework}]: {', '.join(names)}")


for command in (
    localize_command,
    repair_command,
    localize_known_command,
    localize_eval_command,
    matrix_command,
    matrix_train_command,
):
    difftest.add_command(command)
