"""The ``convfail`` command: one entry point, subcommands contributed by the stage packages.

Stage packages register click commands under the ``convfail.commands`` entry point; the core
adds the commands every stage shares (``data``, ``codebook``). Errors derived from
:class:`~convfail.errors.ConvfailError` become one line on stderr and exit code 1.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import click

from convfail import __version__
from convfail.codebook import load_codebook
from convfail.errors import ConvfailError
from convfail.importers import import_artifact_data
from convfail.paths import codebook_path, data_dir

COMMAND_GROUP = "convfail.commands"


class PluginGroup(click.Group):
    """A click group that also lists the commands stage packages register as entry points."""

    def _plugins(self) -> dict[str, click.Command]:
        return {ep.name: ep.load() for ep in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        for ep in entry_points(group=COMMAND_GROUP, name=cmd_name):
            return ep.load()
        return None


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="convfail")
def cli() -> None:
    """Study how deep-learning model converters fail.

    Rerun the ISSTA 2024 ONNX converter study from the shipped data (`convfail reproduce`),
    import and analyse studies of your own, mine issues, and test converters.
    """


@cli.group()
def data() -> None:
    """Import and inspect the datasets under data/."""


@data.command("import-artifact")
@click.argument(
    "path",
    required=False,
    type=click.Path(path_type=Path, file_okay=False),
)
@click.option(
    "--created-dates",
    type=click.Path(path_type=Path, dir_okay=False),
    help="CSV of issue creation dates [default: issue-created-dates.csv beside the artifact].",
)
@click.option("--only", multiple=True, help="Run only the named importer(s).")
def import_artifact(path: Path | None, created_dates: Path | None, only: tuple[str, ...]) -> None:
    """Convert the published ISSTA 2024 artifact at PATH into the project's datasets.

    PATH defaults to ../shared/reference/issta24-artifact. The import is deterministic: running it
    twice writes byte-identical files. A malformed input stops it before anything is written.
    """
    for name, written in import_artifact_data(path, created_dates, only):
        click.echo(f"{name}: wrote {len(written)} file(s)")
        for file in written:
            click.echo(f"  {file.relative_to(data_dir().parent)}")


@cli.group()
def codebook() -> None:
    """Check and show the failure taxonomy (data/codebook.yaml)."""


@codebook.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
def codebook_check(path: Path | None) -> None:
    """Validate a codebook file (default: data/codebook.yaml)."""
    book = load_codebook(path or codebook_path())
    sizes = ", ".join(f"{dim} {len(d.categories)}" for dim, d in book.dimensions.items())
    click.echo(f"{book.source}: codebook {book.version} is valid ({sizes})")


@codebook.command("show")
@click.argument("dimension", required=False)
def codebook_show(dimension: str | None) -> None:
    """Print the categories of one dimension (or all) with codes and definitions."""
    book = load_codebook()
    dims = [book[dimension]] if dimension else list(book.dimensions.values())
    for dim in dims:
        click.secho(f"{dim.name}: {dim.description}", bold=True)
        for cat in dim:
            click.echo(f"  {cat.code:>2}  {cat.key:<34} {cat.definition}")


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn project errors into one line and a non-zero exit code."""
    try:
        cli.main(args=argv, prog_name="convfail", standalone_mode=False)
    except ConvfailError as exc:
        click.echo(f"convfail: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("convfail: interrupted; finished work is kept", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
