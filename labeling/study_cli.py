"""``convfail study``: make a new study from a list of issues (see :mod:`labeling.new_study`)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from convfail import __version__
from convfail.errors import ConvfailError
from convfail.paths import issues_dir, study_dir
from labeling import new_study
from labeling.store import check_name

file_path = click.Path(path_type=Path, dir_okay=False, exists=True)


def command_line(ctx: click.Context) -> str:
    """The command as typed, rebuilt from its parsed options (so it reads the same anywhere)."""
    words = ["convfail", "study", "new", ctx.params["name"]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.name == "name" or value in (None, False, ()):
            continue
        flag = param.opts[0]
        values = value if isinstance(value, tuple) else [value]
        for item in values:
            words += [flag] if item is True else [flag, str(item)]
    return shlex.join(words)


@click.group()
def study() -> None:
    """Make studies to label: from mined records, a CSV of issues or a list of issue URLs."""


@study.command("new")
@click.argument("name")
@click.option("--from-mined", "mined_repo", metavar="REPO", help="Mined records of OWNER/NAME.")
@click.option("--numbers", help="With --from-mined: issue numbers, e.g. 1,2,5-9.")
@click.option("--query", help="With --from-mined: every live issue whose title contains TEXT.")
@click.option("--from-csv", "csv_file", type=file_path, help="CSV: repository,number[,converter].")
@click.option("--from-urls", "urls_file", type=file_path, help="One issue URL a line.")
@click.option(
    "--converter",
    "converter_pairs",
    multiple=True,
    metavar="REPO=NAME",
    help="Converter of a repository the ISSTA study does not cover (repeatable).",
)
@click.option("--title", help="Title of the study (study.yaml).")
@click.option("--replace", is_flag=True, help="Rebuild an existing study that has no labels yet.")
def new_command(
    name: str,
    mined_repo: str | None,
    numbers: str | None,
    query: str | None,
    csv_file: Path | None,
    urls_file: Path | None,
    converter_pairs: tuple[str, ...],
    title: str | None,
    replace: bool,
) -> None:
    """Write data/studies/NAME/issues.csv and study.yaml from a list of issues.

    Every input line is checked first (issue URL form, pull requests, duplicates, a converter
    for each repository); any wrong line is reported with its place and nothing is written.
    Then `convfail mine hydrate --study NAME` fetches the issues' text.
    """
    check_name(name, "study", "it becomes data/studies/<name>/")
    sources = [s for s in (mined_repo, csv_file, urls_file) if s is not None]
    if len(sources) != 1:
        raise ConvfailError(
            "give exactly one of --from-mined, --from-csv, --from-urls",
            "e.g. convfail study new NAME --from-urls issues.txt",
        )
    if mined_repo is not None and (numbers is None) == (query is None):
        raise ConvfailError(
            "--from-mined needs exactly one of --numbers or --query",
            "e.g. --numbers 1,2,5-9 or --query 'opset'",
        )
    if mined_repo is None and (numbers or query):
        raise ConvfailError("--numbers and --query go with --from-mined only", "drop them")
    converters = new_study.converter_names(new_study.parse_converters(converter_pairs))
    if mined_repo is not None:
        wanted = new_study.parse_numbers(numbers) if numbers else None
        candidates, problems = new_study.from_mined(mined_repo, wanted, query)
        provenance = new_study.input_provenance("mined", mined_repo, numbers=numbers, query=query)
    elif csv_file is not None:
        candidates, problems = new_study.from_csv(csv_file)
        provenance = new_study.input_provenance("csv", str(csv_file))
    else:
        assert urls_file is not None
        candidates, problems = new_study.from_urls(urls_file)
        provenance = new_study.input_provenance("urls", str(urls_file))
    rows, more = new_study.check(candidates, converters, issues_dir())
    problems += more
    if problems:
        raise new_study.InputProblems(problems)
    if not rows:
        raise ConvfailError("the input names no issue; nothing written", "add issue lines")
    record = {
        "input": provenance,
        "command": command_line(click.get_current_context()),
        "made_at": new_study.made_at(),
        "convfail_version": __version__,
    }
    folder = study_dir(name)
    written = new_study.write_study(folder, name, rows, record, title, replace)
    untitled = sum(1 for r in rows if not r["title"])
    names = ", ".join(p.name for p in written)
    click.echo(f"study {name}: {len(rows)} issue(s) in {folder}; wrote {names}")
    click.echo(
        f"next: convfail mine hydrate --study {name}"
        + (f"  ({untitled} issue(s) have no mined text yet)" if untitled else "")
    )
