"""Story signatures: the fast ``signature`` is the old one, value for value.

``reference_signature`` is the implementation before the speed-up (characters one by one,
a fresh MinHash drawing its permutations for every article). The new one must give equal
MinHash values on corpus articles and on awkward text, so stories group exactly as before.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from datasketch import MinHash

from services.rules.stories import PERMUTATIONS, SHINGLE, Stories, signature
from services.text import fold

PER_FILE = 120


def reference_signature(text: str) -> MinHash:
    words = [w for w in "".join(c if c.isalnum() else " " for c in fold(text)).split() if w]
    if len(words) >= SHINGLE:
        shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    else:
        shingles = set(words) or {""}
    sig = MinHash(num_perm=PERMUTATIONS, seed=1)
    sig.update_batch([s.encode() for s in sorted(shingles)])
    return sig


def _corpus_texts(corpus: Path) -> list[str]:
    texts = []
    for path in sorted((corpus / "news").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for n, line in enumerate(lines):
                if n >= PER_FILE:
                    break
                record = json.loads(line)
                texts.append(str(record.get("body") or record.get("title") or ""))
    return texts


def _variants(text: str) -> list[str]:
    """Near copies as outlets make them: a new dateline, a sign-off, a word changed."""
    words = text.split()
    changed = " ".join(w if i % 17 else w.upper() + "s" for i, w in enumerate(words))
    return [f"LONDON (Wire) - {text}", f"{text} Reporting by A. Writer; editing by B.", changed]


def test_word_runs_are_exactly_the_old_isalnum_split() -> None:
    word = re.compile(r"[^\W_]")
    assert all(chr(c).isalnum() == bool(word.match(chr(c))) for c in range(0x110000))


def test_awkward_texts_sign_as_before() -> None:
    for text in [
        "",
        "!!",
        "a",
        "a b",
        "snake_case and_more words_here",
        "Ünïcödé ½ ²³ 漢字 テスト ١٢٣ a\u0301b",
        "tabs\tand\nnewlines\u00a0nbsp\u2003em",
        "repeat repeat repeat repeat repeat",
    ]:
        assert signature(text) == reference_signature(text), text


def test_corpus_articles_sign_and_group_as_before(corpus: Path) -> None:
    texts = _corpus_texts(corpus)
    assert len(texts) > 500
    docs = []
    for n, text in enumerate(texts):
        docs.append((f"a{n}", text))
        if n % 10 == 0:  # some stories told again by other outlets
            docs.extend((f"a{n}v{k}", v) for k, v in enumerate(_variants(text)))
    old, new = Stories(), Stories()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    old_groups, new_groups = [], []
    joined = 0
    for n, (article_id, text) in enumerate(docs):
        old_sig, new_sig = reference_signature(text), signature(text)
        assert new_sig == old_sig, article_id
        assert new_sig.jaccard(old_sig) == 1.0
        old_groups.append(old.similar(old_sig))
        new_groups.append(new.similar(new_sig))
        joined += bool(new_groups[-1])
        seen = start + timedelta(seconds=n)
        old.add(article_id, old_sig, seen)
        new.add(article_id, new_sig, seen)
    assert new_groups == old_groups
    assert joined >= len(texts) // 10  # the near copies found their story
