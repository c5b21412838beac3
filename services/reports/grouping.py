"""The grouping engine: MinHash signatures and an LSH index of a consultation's published comments
(``datasketch``), so a new comment finds its near-identical ones without being compared to all.

No SQL and no framework here: the use case (``handlers.group_pending``) reads and writes the rows,
this module keeps the in-memory part. The database is the truth: each grouped comment's row holds
its group, its signature, the hash of its normalised text and the similarity it joined with; an
:class:`Index` is a cache of those rows, caught up from them by their ``seq`` before every batch
(rows another instance wrote, or every row after a restart), so it survives restarts and any
number of instances (one grouper a consultation at a time: the use case holds an advisory lock).

A candidate from the index is never trusted: the group is chosen by the actual Jaccard of the two
texts' shingles (``rules.jaccard``), so an LSH false positive costs a comparison, never precision.
"""
from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from services.reports import rules

PERMUTATIONS = 64  # signature length: 256 bytes a comment (uint32 each)
SEED = 1
SCHEME = "affine32"
# recall first: a false candidate costs one verified comparison, a missed one a wrong group
LSH_WEIGHTS = (0.2, 0.8)
CHECKS_A_GROUP = 6  # candidates of one group verified before that group is given up
SHINGLE_CACHE = 20_000  # shingle sets of recently seen comments (verification without the database)
INDEXES = 8  # consultations whose index stays in memory (least recently used dropped)

_template = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)


def signature(shingles: Iterable[str]) -> MinHash:
    m = MinHash(num_perm=PERMUTATIONS, seed=SEED, permutations=_template.permutations, scheme=SCHEME)
    m.update_batch([s.encode() for s in shingles])
    return m


def to_bytes(m: MinHash) -> bytes:
    return np.asarray(m.hashvalues, dtype=np.uint32).tobytes()


def from_bytes(data: bytes) -> LeanMinHash:
    return LeanMinHash(seed=SEED, hashvalues=np.frombuffer(data, dtype=np.uint32).astype(np.uint64), scheme=SCHEME)


@dataclass
class Grouped:
    """One comment's place: what the use case writes."""

    comment_id: uuid.UUID
    group_id: uuid.UUID
    signature: bytes
    text_hash: str
    similarity: float | None  # None: it founded the group
    new_group: bool


@dataclass
class Index:
    """One consultation's grouped comments in memory: the LSH over the indexed ones, each indexed
    comment's group, and the group of each exact text."""

    upto: int = 0  # the highest ``seq`` loaded
    lsh: MinHashLSH = field(default_factory=lambda: MinHashLSH(threshold=rules.GROUP_THRESHOLD,
                                                               num_perm=PERMUTATIONS, weights=LSH_WEIGHTS))
    group_of: dict = field(default_factory=dict)  # indexed comment → group
    by_text: dict = field(default_factory=dict)   # text hash → group of its first comment

    def load(self, rows: Iterable) -> None:
        """Rows ``(comment_id, group_id, seq, signature, text_hash, similarity, split)`` in ``seq``
        order, as written by any instance."""
        for r in rows:
            self.upto = max(self.upto, r.seq)
            if r.split:
                continue
            self.by_text.setdefault(r.text_hash, r.group_id)
            if rules.indexed(r.similarity) and r.comment_id not in self.group_of:
                self.lsh.insert(r.comment_id, from_bytes(r.signature))
                self.group_of[r.comment_id] = r.group_id


class Engine:
    """The indexes of the consultations being grouped (at most ``INDEXES``) and a cache of shingle
    sets; one per process."""

    def __init__(self):
        self.indexes: OrderedDict[uuid.UUID, Index] = OrderedDict()
        self.cache: OrderedDict[uuid.UUID, set] = OrderedDict()

    def index(self, cid: uuid.UUID) -> Index:
        idx = self.indexes.pop(cid, None) or Index()
        self.indexes[cid] = idx
        while len(self.indexes) > INDEXES:
            self.indexes.popitem(last=False)
        return idx

    def forget(self, cid: uuid.UUID) -> None:
        """After a failed batch: the index may hold what was never committed; rebuilt next time."""
        self.indexes.pop(cid, None)

    def _remember(self, comment_id, shingles: set) -> None:
        self.cache[comment_id] = shingles
        self.cache.move_to_end(comment_id)
        while len(self.cache) > SHINGLE_CACHE:
            self.cache.popitem(last=False)

    def _shingles_of(self, ids: list, bodies: Callable[[list], dict]) -> dict:
        missing = [i for i in ids if i not in self.cache]
        if missing:
            for comment_id, body in bodies(missing).items():
                self._remember(comment_id, rules.shingles(rules.normalise(body)))
        return {i: self.cache.get(i, set()) for i in ids}

    def place(self, idx: Index, comment_id: uuid.UUID, body: str, bodies: Callable[[list], dict]) -> Grouped:
        """Group one comment: an exact copy (normalised) joins its text's group; otherwise the
        index's candidates are verified, a few a group, and the comment joins the group of the
        best one at or above the threshold, or founds a group."""
        norm = rules.normalise(body)
        digest = rules.text_hash(norm)
        sh = rules.shingles(norm)
        m = signature(sh)
        self._remember(comment_id, sh)
        group = idx.by_text.get(digest)
        similarity: float | None = 1.0
        if group is None:
            by_group: dict = {}
            for cand in idx.lsh.query(m):
                by_group.setdefault(idx.group_of[cand], []).append(cand)
            scores = []
            for g, cands in by_group.items():
                picked = cands[:CHECKS_A_GROUP]
                known = self._shingles_of(picked, bodies)
                best = 0.0
                for c in picked:
                    best = max(best, rules.jaccard(sh, known[c]))
                    if best >= rules.GROUP_THRESHOLD:
                        break
                scores.append((g, best))
            group, top = rules.best_group(scores)
            similarity = top if group is not None else None
        new = group is None
        if new:
            group = uuid.uuid4()
        idx.by_text.setdefault(digest, group)
        if rules.indexed(similarity):
            idx.lsh.insert(comment_id, m)
            idx.group_of[comment_id] = group
        return Grouped(comment_id, group, to_bytes(m), digest, similarity, new)
