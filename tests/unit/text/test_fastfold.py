"""``normalise_fast`` returns exactly what ``normalise`` returns, for every kind of text."""

from __future__ import annotations

import json
import random
from itertools import islice
from pathlib import Path

import pytest

from services.text.fastfold import normalise_fast
from services.text.normalise import _tables, normalise

SAMPLES = [
    "",
    "Plain ASCII, with\ttabs,\r\nnewlines and `backticks`.",
    "UPPER lower MiXeD 123",
    "Армения и Азербайджан — «переговоры» ёлка",
    "Əliyev, İstanbul, straße, ﬁnance, Ǆ, ß",
    "Հայաստան և Ադրբեջան",  # Armenian ligature: folds to two letters
    "soft\u00adhyphen, zero\u200bwidth, cafe\u0301",
    "emoji 🙂 and 𝐁𝐨𝐥𝐝 astral letters",
    "CJK 中文 and compatibility \ufa6c ideograph",
    "noncharacter \uffff here",
    "lone \ud800 surrogate",
    "ایران و عراق",  # Persian and Arabic letters
]


@pytest.mark.parametrize("text", SAMPLES)
def test_samples(text: str) -> None:
    assert normalise_fast(text) == normalise(text)


def test_random_texts_over_every_folded_character() -> None:
    table, irregular, _ = _tables()
    alphabet = [chr(c) for c in table] + sorted(irregular) + list("abc XYZ\n\t`'-.") * 50
    rng = random.Random(3)
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert normalise_fast(text) == normalise(text)
    for _ in range(300):  # without the irregular characters: the vectorised path
        text = "".join(rng.choice(alphabet[: len(table)]) for _ in range(rng.randint(1, 60)))
        assert normalise_fast(text) == normalise(text)


def test_corpus_texts(corpus: Path) -> None:
    for path in sorted((corpus / "news").glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in islice(handle, 40):
                record = json.loads(line)
                text = (record.get("title") or "") + "\n\n" + (record.get("body") or "")
                assert normalise_fast(text) == normalise(text)
