"""Story signatures: the fast ``signature`` is the plain one, value for value; its hash
estimates similarity as well as datasketch's default.

``reference_signature`` is the implementation before the speed-ups (characters one by one,
a fresh MinHash drawing its permutations for every article), with the same shingle hash.
The fast one must give equal MinHash values on corpus articles and on awkward text, so
stories group exactly as with the plain one.
"""

from __future__ import annotations

import json
import re
import statistics
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32

from services.rules.stories import PERMUTATIONS, SHINGLE, Stories, signature
from services.text import fold

PER_FILE = 120


def reference_shingles(text: str) -> set[str]:
    words = [w for w in "".join(c if c.isalnum() else " " for c in fold(text)).split() if w]
    if len(words) >= SHINGLE:
        return {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    return set(words) or {""}


def reference_signature(text: str, hashfunc: Callable[[bytes], int] = zlib.crc32) -> MinHash:
    sig = MinHash(num_perm=PERMUTATIONS, seed=1, hashfunc=hashfunc)
    sig.update_batch([s.encode() for s in sorted(reference_shingles(text))])
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


def test_crc32_estimates_similarity_as_well_as_sha1(corpus: Path) -> None:
    """The shingle hash only feeds the permutations, so CRC-32 (chosen for speed) must
    estimate the Jaccard similarity of real pairs (near copies, unrelated articles) about as
    well as datasketch's default SHA-1 prefix: no bias, the same error."""
    texts = _corpus_texts(corpus)[::3]
    errors: dict[str, list[float]] = {"sha1": [], "crc32": []}
    for n, text in enumerate(texts):
        for other in [*_variants(text), texts[(n + 1) % len(texts)]]:
            a, b = reference_shingles(text), reference_shingles(other)
            truth = len(a & b) / len(a | b)
            for name, hashfunc in (("sha1", sha1_hash32), ("crc32", zlib.crc32)):
                estimate = reference_signature(text, hashfunc).jaccard(
                    reference_signature(other, hashfunc)
                )
                errors[name].append(estimate - truth)
    assert len(errors["crc32"]) > 1000
    assert abs(statistics.mean(errors["crc32"])) < 0.01
    mae = {name: statistics.mean(map(abs, e)) for name, e in errors.items()}
    assert mae["crc32"] <= 1.1 * mae["sha1"], mae
