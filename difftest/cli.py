"""``convfail difftest``: run, resume and inspect differential-testing campaigns."""

from __future__ import annotations

import importlib
import os

import click

from convfail.campaign_files import CONFIG_FILE, OUTCOMES, RESULTS_FILE
from convfail.errors import ConvfailError
from convfail.paths import campaign_dir
from convfail.verdicts import parse_policy
from difftest import quiet
from difftest.campaign import CampaignConfig, campaign_status, run_campaign, short_counts
from difftest.converters import CONVERTERS
from difftest.isolation import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
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


# the localize and matrix commands pull numpy-heavy modules, plotting and the frameworks:
# imported only when one runs. name -> (module, attribute, one-line help)
LOCALIZE_CLI = "difftest.localize.cli"
MATRIX_CLI = "difftest.matrix.cli"
LAZY_COMMANDS = {
    "localize": (
        LOCALIZE_CLI,
        "localize_command",
        "Find where a converted model starts to differ, and why.",
    ),
    "repair": (LOCALIZE_CLI, "repair_command", "Localize, then fix the converted model."),
    "localize-path": (
        LOCALIZE_CLI,
        "localize_path_command",
        "Find the hop of a conversion path that introduces a difference; localize, repair.",
    ),
    "localize-known": (
        LOCALIZE_CLI,
        "localize_known_command",
        "Localize the documented converter faults.",
    ),
    "localize-eval": (
        LOCALIZE_CLI,
        "localize_eval_command",
        "Evaluate the localizer on injected faults.",
    ),
    "localize-eval-matrix": (
        LOCALIZE_CLI,
        "localize_eval_matrix_command",
        "Evaluate localization and repair on FetaFix's fault types across the matrix.",
    ),
    "matrix": (
        MATRIX_CLI,
        "matrix_command",
        "Convert image classifiers between frameworks; label discrepancy per path.",
    ),
    "matrix-train": (MATRIX_CLI, "matrix_train_command", "Train the matrix's models once."),
    "matrix-rejudge": (
        MATRIX_CLI,
        "matrix_rejudge_command",
        "Judge a finished matrix again against its sources' own noise floor.",
    ),
}


class LazyGroup(click.Group):
    """A group whose :data:`LAZY_COMMANDS` are imported when run, not when the group loads, so
    that ``list``, ``status`` and ``--help`` start fast."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute, _ = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2]) for name in LAZY_COMMANDS]
        rows += [
            (name, command.get_short_help_str(formatter.width))
            for name, command in self.commands.items()
            if name not in LAZY_COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup)
@click.option(
    "-v", "--verbose", is_flag=True, help="Show TensorFlow, absl, tf2onnx and exporter logs."
)
def difftest(verbose: bool) -> None:
    """Differential testing of converters: convert, run in ONNX Runtime, compare, classify.

    Results go to data/difftest/<campaign>/results.jsonl (plus graphs/ with the structure of
    every converted model); ONNX files to .cache/difftest/<campaign>/onnx/.
    """
    quiet.configure(verbose)


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
    "--policy",
    default="default",
    show_default=True,
    help="Verdict policy: default (dtype-aware allclose), paper (rtol 1e-3, atol 1e-7) or "
    "RTOL,ATOL. Raw differences are kept, so `status --policy` re-judges later.",
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
    policy: str,
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
        policy=policy,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
    )
    _execute(config, workers, scheduler, fresh, limit)


@difftest.command("resume")
@click.argument("campaign")
@click.option("--workers", type=int, default=None, help="Parallel models [default: CPU count].")
@click.option("--scheduler", help="Dask scheduler address; default: local pool.")
@click.option("--limit", type=int, help="Run at most this many pending models, then stop.")
def resume(campaign: str, workers: int | None, scheduler: str | None, limit: int | None) -> None:
    """Continue CAMPAIGN with the settings saved in its campaign.yaml.

    The only command that changes a results file it did not just write: a torn last line (a run
    killed while writing it) is cut off, after saying so, and its model runs again."""
    saved = campaign_dir(campaign) / CONFIG_FILE
    if not saved.is_file():
        raise ConvfailError(
            f"no campaign named {campaign!r} ({saved} is missing)",
            "start it with `convfail difftest run`",
        )
    _execute(CampaignConfig.read(campaign), workers, scheduler, False, limit)


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
@click.option(
    "--policy",
    help="Re-judge every compared record under this policy: default, paper or RTOL,ATOL "
    "[default: the campaign's].",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=click.Choice(OUTCOMES),
    help="With --keys: only records with this outcome (under --policy), repeatable.",
)
@click.option("--keys", is_flag=True, help="Print only the matching record keys, one a line.")
def status(
    campaign: str, top: int, policy: str | None, outcomes: tuple[str, ...], keys: bool
) -> None:
    """Outcome counts of CAMPAIGN per converter, and its most frequent unique errors.

    Reads the results file and never changes it.

    \b
    Examples:
      convfail difftest status fresh-synthetic --policy paper
      convfail difftest status fresh-synthetic --outcome mismatch --keys
    """
    summary = campaign_status(campaign, parse_policy(policy) if policy else None)
    if summary.torn_tail:
        click.echo(
            f"{summary.path}: the last line is torn and left out; "
            f"`convfail difftest resume {campaign}` cuts it off",
            err=True,
        )
    if keys:
        for outcome in outcomes or OUTCOMES:
            for key in summary.keys.get(outcome, []):
                click.echo(key)
        return
    click.echo(f"policy: {summary.policy.describe()}")
    if summary.not_rejudged:
        click.echo(
            f"  {summary.not_rejudged} compared record(s) have no raw differences "
            "(imported or older results) and keep their recorded verdict"
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
            names = ", ".join(model_names(source, framework))
            click.echo(f"{source} [{framework}]: {names}")
