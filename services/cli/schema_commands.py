"""``tocsin schemas``: the JSON Schema files generated from the event models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schemas.export import JSON_DIR, export, stale

app = typer.Typer(
    help="Event contracts: export the JSON Schemas generated from the models.", no_args_is_help=True
)


@app.command("export")
def export_command(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if any file is stale.")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the files.", file_okay=False)
    ] = JSON_DIR,
) -> None:
    """Write schemas/json/<event type>.json and topics.json from the pydantic models."""
    if check:
        problems = stale(out)
        if problems:
            typer.echo(f"stale JSON Schema files in {out}: {', '.join(problems)}", err=True)
            typer.echo("run: tocsin schemas export", err=True)
            raise typer.Exit(1)
        typer.echo(f"JSON Schema files in {out} are current")
        return
    changed = export(out)
    typer.echo(
        f"wrote {len(changed)} changed file(s) to {out}" if changed else f"{out} already current"
    )
