"""Source config: validated at load, errors naming entry, field and line; OPML import."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.poller.config import (
    SourceConfigError,
    load_default_sources,
    load_sources,
    parse_duration,
)
from services.poller.opml import read_opml


def test_valid_entries_get_their_fields_and_defaults(tmp_path: Path) -> None:
    (feed,) = load_sources(
        [
            {
                "id": "wi",
                "url": "https://warsawinstitute.org/feed/",
                "every": "10m",
                "labels": {"region": "caucasus", "n": 3},
            }
        ]
    )
    assert (feed.kind, feed.interval_s, feed.jitter_s) == ("feed", 600.0, 60.0)
    assert feed.labels == {"region": "caucasus", "n": "3"} and feed.enabled
    (cron,) = load_sources(
        [{"id": "c", "url": "./x.xml", "cron": "*/15 * * * *"}], base_dir=tmp_path
    )
    assert cron.cron == "*/15 * * * *" and cron.jitter_s == 30.0
    assert cron.local_path == tmp_path / "x.xml"


@pytest.mark.parametrize(
    "url", ["ftp://example.org/feed", "javascript:alert(1)", "data:text/xml,<rss/>", "gopher://x/"]
)
def test_non_http_urls_are_refused_at_load_naming_entry_and_line(tmp_path: Path, url: str) -> None:
    config = tmp_path / "tocsin.yaml"
    config.write_text(
        yaml.safe_dump(
            {"sources": [{"id": "ok", "url": "https://a.org/f"}, {"id": "bad", "url": url}]}
        )
    )
    raw = yaml.safe_load(config.read_text())["sources"]
    with pytest.raises(SourceConfigError) as err:
        load_sources(raw, origin=config)
    text = str(err.value)
    assert "sources[1] (id 'bad'): url:" in text and "not allowed" in text
    line = next(
        i
        for i, ln in enumerate(config.read_text().splitlines(), 1)
        if url.split(":", maxsplit=1)[0] in ln
    )
    assert f"{config}:{line}:" in text


def test_duplicate_ids_and_several_problems_are_all_reported() -> None:
    with pytest.raises(SourceConfigError) as err:
        load_sources(
            [
                {"id": "a", "url": "https://a.org/f"},
                {"id": "a", "url": "https://b.org/f"},
                {"id": "b c", "url": "https://c.org/f"},
                {"id": "d", "url": "https://d.org/f", "every": "10m", "cron": "* * * * *"},
                {"id": "e", "url": "https://e.org/f", "cron": "not a cron"},
                {"id": "f", "url": "https://f.org/f", "kind": "podcast"},
                {"id": "g", "url": "https://g.org/f", "colour": "red"},
                {"id": "h", "url": "http:///nohost"},
            ]
        )
    text = str(err.value)
    assert "duplicate source id 'a' (first at sources[0])" in text
    for needle in (
        "sources[2]",
        "sources[3] (id 'd')",
        "not both",
        "sources[4] (id 'e'): cron",
        "sources[5] (id 'f'): kind",
        "sources[6] (id 'g'): colour",
        "has no host",
    ):
        assert needle in text, needle


def test_durations() -> None:
    assert (
        parse_duration("90") == 90
        and parse_duration("1.5h") == 5400
        and parse_duration("250ms") == 0.25
    )
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_bundled_defaults_load_and_include_an_offline_sample() -> None:
    sources = load_default_sources()
    sample = next(s for s in sources if s.id == "tocsin-sample")
    assert not sample.is_remote and sample.local_path.is_file()
    assert any(s.url == "https://warsawinstitute.org/feed/" for s in sources)


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Caucasus">
    <outline text="OC Media" type="rss" xmlUrl="https://oc-media.org/feed/" language="en-GB"/>
    <outline text="OC Media" type="rss" xmlUrl="https://oc-media.org/other/"/>
  </outline>
  <outline text="Bad" type="rss" xmlUrl="ftp://example.org/feed"/>
  <outline text="Civil" type="rss" xmlUrl="https://civil.ge/feed"/>
</body></opml>"""


def test_opml_import_gives_loadable_unique_sources(tmp_path: Path) -> None:
    path = tmp_path / "subs.opml"
    path.write_text(OPML)
    result = read_opml(path, existing_ids=["civil"])
    ids = [s["id"] for s in result.sources]
    assert ids == ["oc-media", "oc-media-2", "civil-2"]
    assert (
        result.sources[0]["labels"] == {"category": "Caucasus"}
        and result.sources[0]["language"] == "en"
    )
    assert len(result.skipped) == 1 and "ftp://" in result.skipped[0]
    loaded = load_sources(yaml.safe_load(result.to_yaml())["sources"])
    assert [s.id for s in loaded] == ids


def test_opml_outlines_that_would_not_load_are_reported_and_the_rest_imported(
    tmp_path: Path,
) -> None:
    """Readers export whatever their users typed: one bad outline must not lose the file
    (a malformed IPv6 literal raised out of the import, a host-less URL refused it all)."""
    path = tmp_path / "export.opml"
    path.write_text(
        '<opml version="2.0"><body>'
        '<outline text="Broken" xmlUrl="http://[::1/feed"/>'
        '<outline text="Hostless" xmlUrl="http:///feed.xml"/>'
        '<outline text="Script" xmlUrl="javascript:alert(1)"/>'
        '<outline text="Civil" xmlUrl="https://civil.ge/feed"/>'
        "</body></opml>"
    )
    result = read_opml(path)
    assert [s["id"] for s in result.sources] == ["civil"]
    assert result.skipped == [
        f"{path}:1: Broken: not a valid URL (Invalid IPv6 URL): 'http://[::1/feed'",
        f"{path}:1: Hostless: url: 'http:///feed.xml' has no host",
        f"{path}:1: Script: not an http(s) URL: 'javascript:alert(1)'",
    ]


def test_opml_that_is_not_opml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.opml"
    path.write_text("<rss/>")
    with pytest.raises(SourceConfigError, match="not <opml>"):
        read_opml(path)
