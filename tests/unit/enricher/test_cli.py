"""``tocsin enrich``: plain text and JSON articles from a file or stdin, table and JSON output,
clear errors, and no event log touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_log_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory: enrich must not create ./data/tocsin.db."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOCSIN_CONFIG", raising=False)
    return tmp_path


def test_plain_text_from_stdin_as_json(no_log_here: Path) -> None:
    text = "Саммит ОДКБ прошёл в Ереване. Пашинян отказался подписать декларацию."
    result = runner.invoke(app, ["enrich", "-", "--format", "json"], input=text)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["language"]["code"] == "ru"
    assert data["countries"][:1] == ["AM"]
    by_id = {e["id"]: e for e in data["entities"]}
    assert by_id["org:csto"]["kind"] == "organisation"
    mention = by_id["person:nikol-pashinyan"]["mentions"][0]
    assert text[mention["start"] : mention["end"]] == mention["surface"] == "Пашинян"
    assert data["enricher_version"].startswith(("0.", "1."))
    assert not (no_log_here / "data").exists()


def test_json_article_file_as_table(tmp_path: Path) -> None:
    article = {
        "title": "Ceasefire broken near Lachin",
        "text": "Armenian and Azerbaijani forces exchanged fire; the OSCE called for calm.",
        "language_hint": "en",
    }
    path = tmp_path / "article.json"
    path.write_text(json.dumps(article), encoding="utf-8")
    result = runner.invoke(app, ["enrich", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "countries: AM, AZ" in out or ("AM" in out and "AZ" in out)
    for expected in ("place:lachin", "org:osce", "ceasefire", "Armenian", "adj"):
        assert expected in out
    assert "language: en" in out


def test_markup_in_names_is_shown_as_text(tmp_path: Path) -> None:
    desk = tmp_path / "desk.yaml"
    desk.write_text(
        "entries:\n  - id: place:shvanidzor\n    kind: place\n    name: '[red]Shvanidzor'\n"
        "    countries: [AM]\n    aliases: {en: [Shvanidzor]}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["enrich", "-", "-g", str(desk)], input="[bold]Shvanidzor[/bold]")
    assert result.exit_code == 0, result.output
    assert "[red]Shvanidzor" in result.stdout  # escaped, not read as rich markup
    assert "Shvanidzor [6:16]" in result.stdout


def test_user_gazetteer_and_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "desk.yaml"
    good.write_text(
        "entries:\n  - id: place:shvanidzor\n    kind: place\n    name: Shvanidzor\n    countries: [AM]\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["enrich", "-", "-f", "json", "-g", str(good)], input="Shelling near Shvanidzor."
    )
    assert result.exit_code == 0, result.output
    assert "place:shvanidzor" in {e["id"] for e in json.loads(result.stdout)["entities"]}

    bad = tmp_path / "bad.yaml"
    bad.write_text("entries:\n  - id: nope\n", encoding="utf-8")
    result = runner.invoke(app, ["enrich", "-", "-g", str(bad)], input="x")
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr and "gazetteer error" in result.stderr


def test_errors_are_clear(tmp_path: Path) -> None:
    result = runner.invoke(app, ["enrich", str(tmp_path / "missing.txt")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
    result = runner.invoke(app, ["enrich", "-"], input="   \n")
    assert result.exit_code == 2
    assert "nothing to enrich" in result.stderr
    result = runner.invoke(app, ["enrich", "-"], input='{"author": "x"}')
    assert result.exit_code == 2
    assert "no 'title'" in result.output
    result = runner.invoke(app, ["enrich", "-", "--format", "csv"], input="Armenia")
    assert result.exit_code == 2
