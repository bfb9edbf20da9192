"""``convfail mine``: mine converter issues from GitHub, sample studies, hydrate and validate.

State and raw responses live in the git-ignored ``.cache/mining/`` (``state.sqlite``,
``archive.sqlite``); records go to ``data/issues/<owner>__<repo>.jsonl``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click

from convfail.dataset import load_study
from convfail.paths import data_dir, study_dir
from mining import rules, studies, validation
from mining.scope import PRESETS, STATES, resolve
from mining.session import API_CHOICES, open_miner


def network_options(command: click.Command) -> click.Command:
    options = [
        click.option(
            "--api",
            type=click.Choice(API_CHOICES),
            default="auto",
            show_default=True,
            help="GraphQL (needs a token; far fewer requests) or REST; auto: GraphQL with a token.",
        ),
        click.option(
            "--no-wait",
            is_flag=True,
            help="Stop cleanly instead of sleeping when a rate limit is spent.",
        ),
        click.option(
            "--replay",
            is_flag=True,
            help="Answer every request from the raw-response archive: no network, same records.",
        ),
        click.option(
            "--api-url",
            metavar="URL",
            help="API root [default: $CONVFAIL_GITHUB_API or api.github.com].",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
        click.option("-v", "--verbose", is_flag=True, help="Log retries and waits."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def scope_options(command: click.Command) -> click.Command:
    options = [
        click.option(
            "--preset",
            "presets",
            multiple=True,
            type=click.Choice(sorted(PRESETS)),
            help="A population of the ISSTA 2024 study (repeatable) [default: both, or --repo].",
        ),
        click.option(
            "--repo",
            "repositories",
            multiple=True,
            metavar="OWNER/NAME",
            help="A repository (repeatable).",
        ),
        click.option(
            "--label",
            "labels",
            multiple=True,
            help="Keep issues with any of these labels (with --repo).",
        ),
        click.option(
            "--exclude-label",
            "exclude",
            multiple=True,
            help="Leave issues with this label out of the population (with --repo).",
        ),
        click.option("--state", type=click.Choice(STATES), help="Issue state [default: closed]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        format="convfail: %(levelname)s: %(message)s",
        level=logging.INFO if verbose else logging.WARNING,
    )
    # urllib3 logs each retry as a warning; the transport reports what the user needs to know
    logging.getLogger("urllib3").setLevel(logging.INFO if verbose else logging.ERROR)


def _warn(message: str) -> None:
    click.echo(f"convfail: warning: {message}", err=True)


@click.group()
def mine() -> None:
    """Mine converter issues from GitHub: fetch, sample, hydrate, validate.

    Set GITHUB_TOKEN (or log in with `gh auth login`) for the GraphQL API: a crawl of 1,000
    issues then costs about 20 requests. Every run is resumable; kill it any time.
    """


@mine.command("issues")
@scope_options
@network_options
@click.option(
    "--full",
    is_flag=True,
    help="Rescan everything (a new cross-reference does not always bump updatedAt).",
)
@click.option(
    "--page-size",
    type=click.IntRange(5, 100),
    default=100,
    show_default=True,
    help="Issues per GraphQL page (halved automatically on timeouts).",
)
def issues_command(
    presets: tuple[str, ...],
    repositories: tuple[str, ...],
    labels: tuple[str, ...],
    exclude: tuple[str, ...],
    state: str | None,
    api: str,
    no_wait: bool,
    replay: bool,
    api_url: str | None,
    quiet: bool,
    verbose: bool,
    full: bool,
    page_size: int,
) -> None:
    """Fetch issues with their fix evidence into data/issues/<owner>__<repo>.jsonl.

    The first run crawls everything in scope; later runs fetch only what changed since
    (one conditional request when nothing did). Use --full for a periodic complete rescan.
    """
    _logging(verbose)
    scopes = resolve(presets, repositories, labels, exclude, state)
    with open_miner(api, api_url, no_wait, replay, quiet, _warn) as miner:
        miner.page_size = page_size
        for scope in scopes:
            report = miner.crawl(scope, full=full or replay)
            click.echo(
                f"{scope.repository}: {report.mode} crawl, {report.fetched} issue(s) fetched, "
                f"{report.requests} request(s); wrote "
                f"{report.dataset.relative_to(data_dir().parent)}"
            )
        stats = miner.transport.stats
        click.echo(
            f"requests: {stats.requests}, retries: {stats.retries}, "
            f"rate budget left: {stats.budget()}"
        )


@mine.command("sample")
@click.option("--study", required=True, help="Name of the new study (data/studies/NAME/).")
@click.option(
    "--n",
    "n",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Issues per repository.",
)
@click.option("--seed", type=int, required=True, help="Random seed (recorded in study.yaml).")
@click.option(
    "--rules",
    "rule_set",
    type=click.Choice(sorted(rules.RULE_SETS)),
    default=rules.DEFAULT_RULE_SET,
    show_default=True,
    help="Which fix rules decide 'closed with a fix'.",
)
@scope_options
def sample_command(
    study: str,
    n: int,
    seed: int,
    rule_set: str,
    presets: tuple[str, ...],
    repositories: tuple[str, ...],
    labels: tuple[str, ...],
    exclude: tuple[str, ...],
    state: str | None,
) -> None:
    """Draw a seeded sample of issues closed with a fix into a new study.

    Writes population.csv (the snapshot sampled from), issues.csv (the sample, ready for the
    labeling tool), mined.csv and study.yaml (seed, rule set, population hash). The same records,
    seed and options always give the same files.
    """
    scopes = resolve(presets, repositories, labels, exclude, state)
    written, counts = studies.sample_study(study_dir(study), study, scopes, n, seed, rule_set)
    for repository, in_population, fixed in counts:
        click.echo(
            f"{repository}: {in_population} in population, "
            f"{fixed} closed with a fix ({rule_set}), {min(n, fixed)} sampled"
        )
    for path in written:
        click.echo(f"  wrote {path.relative_to(data_dir().parent)}")


@mine.command("hydrate")
@click.option("--study", required=True, help="A study under data/studies/ (e.g. issta24).")
@click.option("--refresh", is_flag=True, help="Fetch again issues that already have comments.")
@network_options
def hydrate_command(
    study: str,
    refresh: bool,
    api: str,
    no_wait: bool,
    replay: bool,
    api_url: str | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Fill body, comments, dates and fix evidence of a study's issues.

    Records go to data/issues/; the study gets mined.csv pointing at them. issues.csv and the
    labels are never rewritten; a mined creation date supersedes the shipped one when the study
    is loaded.
    """
    _logging(verbose)
    folder = load_study(study).path
    with open_miner(api, api_url, no_wait, replay, quiet, _warn) as miner:
        hydrated = studies.hydrate_study(miner, folder, refresh=refresh or replay)
        for repository, found, total, missing in hydrated.per_repository:
            gone = ", ".join(f"{n} ({why})" for n, why in sorted(missing.items()))
            note = f"; not hydrated: {gone}" if gone else ""
            click.echo(f"{repository}: {found}/{total} issue(s) hydrated{note}")
        click.echo(
            f"wrote {hydrated.path.relative_to(data_dir().parent)}; "
            f"requests: {miner.transport.stats.requests}"
        )


@mine.command("validate")
@click.option(
    "--judgements",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    required=True,
    help="CSV with columns repository, number, fixed (true/false).",
)
@click.option(
    "--rules",
    "rule_sets",
    multiple=True,
    type=click.Choice(sorted(rules.RULE_SETS)),
    help="Rule set(s) to score [default: all].",
)
def validate_command(judgements: Path, rule_sets: tuple[str, ...]) -> None:
    """Precision and recall of the fix filter against hand judgements (the paper's bar: 0.8)."""
    frame = validation.load_judgements(judgements)
    records = {}
    for repository in sorted(set(frame["repository"])):
        # keyed by the name the judgements use, which may be a renamed repository's old name
        records |= {(repository, r["number"]): r for r in studies.read_records(repository)}
    for rule_set in rule_sets or tuple(rules.RULE_SETS):
        table = validation.score(frame, records, rule_set)
        click.echo(table.to_string(index=False))
        click.echo()
