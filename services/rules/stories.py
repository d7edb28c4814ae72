"""Near-duplicate articles: one story told by many sources.

Why MinHash: a wire story reprinted by ten outlets differs by a headline word, a dateline, a
trailing sign-off; exact hashes miss that. Word 3-gram shingles of the folded text, a
64-permutation MinHash (datasketch) and its LSH index find articles whose shingle sets have
a Jaccard similarity of about ``THRESHOLD`` or more in constant time per lookup. The same
canonical link means the same article id (``schemas.ids.article_id``), so links are caught
before any hashing.

Only articles that fired a rule are signed and indexed (a few per thousand), and entries
older than the horizon are dropped, so memory stays bounded.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from datasketch import MinHash, MinHashLSH

from services.text import fold

__all__ = ["THRESHOLD", "MinHash", "Stories", "signature"]

THRESHOLD = 0.6
PERMUTATIONS = 64
SHINGLE = 3


def signature(text: str) -> MinHash:
    """MinHash of the text's word 3-grams (the words themselves for very short texts)."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in fold(text)).split() if w]
    if len(words) >= SHINGLE:
        shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    else:
        shingles = set(words) or {""}
    sig = MinHash(num_perm=PERMUTATIONS, seed=1)
    sig.update_batch([s.encode() for s in sorted(shingles)])
    return sig


class Stories:
    """Signed articles, findable by near-duplicate text, forgotten after the horizon."""

    def __init__(self) -> None:
        self._lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMUTATIONS)
        self._signatures: dict[str, MinHash] = {}
        self._expiry: list[tuple[datetime, str]] = []

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._signatures

    def __len__(self) -> int:
        return len(self._signatures)

    def add(self, article_id: str, sig: MinHash, seen: datetime) -> None:
        if article_id in self._signatures:
            return
        self._lsh.insert(article_id, sig)
        self._signatures[article_id] = sig
        heapq.heappush(self._expiry, (seen, article_id))

    def similar(self, sig: MinHash) -> list[str]:
        """Indexed articles whose estimated Jaccard similarity reaches the threshold."""
        out = []
        for article_id in self._lsh.query(sig):
            if self._signatures[article_id].jaccard(sig) >= THRESHOLD:
                out.append(str(article_id))
        return sorted(out)

    def forget_before(self, cutoff: datetime) -> None:
        while self._expiry and self._expiry[0][0] < cutoff:
            _, article_id = heapq.heappop(self._expiry)
            if self._signatures.pop(article_id, None) is not None:
                self._lsh.remove(article_id)
