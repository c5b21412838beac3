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
Groups are the connected parts of the "verified Jaccard ≥ 0.85" relation: a comment close enough to
members of two groups (two variants of one campaign that each drifted from the other) links them,
and the smaller is merged into the larger (``rules.linked``).
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
# Recall first: a false candidate costs one verified comparison, a missed one a wrong group. Banded
# for 0.7 (10 bands of 6 rows), a pair at the grouping threshold 0.85 is a candidate with p = 0.99,
# one at 0.8 with 0.95, unrelated texts (J ≤ 0.3) with p < 0.01.
LSH_THRESHOLD = 0.7
LSH_WEIGHTS = (0.2, 0.8)
INDEXED_A_GROUP = 64  # members of one group in the index at most: a 40,000-member campaign stays small
CHECKS = 8  # candidates verified a comment, the most similar by their signatures first
LINKED_GROUPS = 16  # groups among the candidates whose best one is verified too (a comment may link them)
SHINGLE_CACHE = 20_000  # shingle sets of recently seen comments (verification without the database)
INDEXES = 8  # consultations whose index stays in memory (least recently used dropped)

_template = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)


def _band_key(band: bytes) -> int:
    """A band's bucket key: Python's hash of its bytes (the index lives in one process), 32 bytes
    instead of the band's 48 and more; a collision is a false candidate, caught by verification."""
    return hash(band)


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
    merged: list = field(default_factory=list)  # groups it linked, merged into ``group_id``


@dataclass
class Index:
    """One consultation's grouped comments in memory: the LSH over the indexed ones, each indexed
    comment's group, the group of each exact text, and which groups were merged into which."""

    upto: int = 0  # the highest ``seq`` loaded
    lsh: MinHashLSH = field(default_factory=lambda: MinHashLSH(threshold=LSH_THRESHOLD, num_perm=PERMUTATIONS,
                                                               weights=LSH_WEIGHTS, hashfunc=_band_key))
    group_of: dict = field(default_factory=dict)  # indexed comment → group (as placed; see ``find``)
    signature_of: dict = field(default_factory=dict)  # indexed comment → its signature (uint32 array)
    indexed_in: dict = field(default_factory=dict)  # group → its members in the index
    by_text: dict = field(default_factory=dict)   # text hash → group of its first comment (see ``find``)
    merged_into: dict = field(default_factory=dict)  # a merged group → the group it went into

    def find(self, group):
        """The group ``group`` is part of now (merges followed, the path shortened)."""
        root = group
        while root in self.merged_into:
            root = self.merged_into[root]
        while group != root:
            self.merged_into[group], group = root, self.merged_into[group]
        return root

    def merge(self, into, groups: Iterable) -> None:
        for g in groups:
            g = self.find(g)
            if g != into:
                self.merged_into[g] = into
                self.indexed_in[into] = self.indexed_in.get(into, 0) + self.indexed_in.pop(g, 0)

    def load(self, rows: Iterable) -> None:
        """Rows ``(comment_id, group_id, seq, signature, text_hash, similarity, split)`` in ``seq``
        order, as written by any instance; a row seen again (its group merged by another instance:
        a merge gives the rows a new ``seq``) records the merge."""
        for r in rows:
            self.upto = max(self.upto, r.seq)
            if r.split:
                continue
            known = self.group_of.get(r.comment_id)
            if known is not None:
                self.merge(r.group_id, [known])
                continue
            self.by_text.setdefault(r.text_hash, r.group_id)
            self.add(r.comment_id, r.group_id, r.similarity, from_bytes(r.signature))

    def add(self, comment_id, group_id, similarity: float | None, m) -> None:
        """Into the index if it adds coverage (``rules.indexed``); the same decision whether the
        comment is placed here or loaded from the rows of another instance."""
        if not rules.indexed(similarity, self.indexed_in.get(group_id, 0), INDEXED_A_GROUP):
            return
        self.indexed_in[group_id] = self.indexed_in.get(group_id, 0) + 1
        self.lsh.insert(comment_id, m)
        self.group_of[comment_id] = group_id
        self.signature_of[comment_id] = np.asarray(m.hashvalues, dtype=np.uint32)

    def ranked(self, m, candidates: list) -> list:
        """Candidates by the Jaccard their signatures estimate, the highest first."""
        if len(candidates) <= 1:
            return candidates
        mine = np.asarray(m.hashvalues, dtype=np.uint32)
        agree = (np.stack([self.signature_of[c] for c in candidates]) == mine).sum(axis=1)
        return [candidates[i] for i in np.argsort(-agree, kind="stable")]

    def to_verify(self, ranked: list) -> list:
        """The ``CHECKS`` most similar candidates, and the most similar one of every other group
        among them (so a comment that links two groups is seen to)."""
        picked = ranked[:CHECKS]
        groups = {self.find(self.group_of[c]) for c in picked}
        for c in ranked[CHECKS:]:
            g = self.find(self.group_of[c])
            if g not in groups:
                groups.add(g)
                picked.append(c)
                if len(groups) >= LINKED_GROUPS:
                    break
        return picked


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
        index's candidates, the most similar by signature first, are verified (``CHECKS`` of them)
        and the comment joins the group of the best one at or above the threshold, or founds one."""
        norm = rules.normalise(body)
        digest = rules.text_hash(norm)
        sh = rules.shingles(norm)
        m = signature(sh)
        self._remember(comment_id, sh)
        group = idx.by_text.get(digest)
        similarity: float | None = 1.0
        merged: list = []
        if group is not None:
            group = idx.find(group)
        else:
            picked = idx.to_verify(idx.ranked(m, list(idx.lsh.query(m))))
            known = self._shingles_of(picked, bodies)
            best: dict = {}
            for c in picked:
                g = idx.find(idx.group_of[c])
                best[g] = max(best.get(g, 0.0), rules.jaccard(sh, known[c]))
            group, merged, top = rules.linked(best, idx.indexed_in)
            similarity = top if group is not None else None
            idx.merge(group, merged) if merged else None
        new = group is None
        if new:
            group = uuid.uuid4()
        idx.by_text.setdefault(digest, group)
        idx.add(comment_id, group, similarity, m)
        return Grouped(comment_id, group, to_bytes(m), digest, similarity, new, merged)
