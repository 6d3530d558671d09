"""Duplicate images: exact copies (the same bytes) and near copies (the same picture re-encoded, resized
or slightly recoloured), and what ingestion does with them.

Policy (README, "Data policy"):
- the same bytes under two classes of one split: every copy is rejected (no one can say which label
  is right), each naming another;
- the same bytes twice in one class of one split: the first path is ingested, the others rejected as
  its copies (they would only weigh that picture more);
- the same bytes in two splits (a validation or test image that train also has): kept, and reported,
  because it inflates that split's metrics;
- near copies are reported, never rejected: a perceptual hash can match two different garments laid
  out alike, so a person decides.

A near copy is a pair whose 256-bit difference hash (16x16 brightness gradients, computed from a
JPEG decoded at a fraction of its size) differs in at most NEAR_DISTANCE bits: measured on the
clothing data in docs/benchmarks.md ("Duplicates"), with the command.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
from typing import Mapping, Optional, Sequence

import numpy as np

NEAR_DISTANCE = 10
# The manifest lists at most this many sets and pairs of each group (worst kinds first); its counts
# are complete. A folder of augmented copies can hold hundreds of thousands of near pairs.
LISTED = 1000
HASH_SIDE = 16  # the difference hash compares HASH_SIDE x (HASH_SIDE + 1) brightness samples

# Kinds of a duplicate pair, worst first.
ACROSS_SPLITS = "across splits"
CONFLICTING_LABELS = "conflicting labels"
SAME_CLASS = "same class"


@dataclasses.dataclass(frozen=True)
class File:
    relative_path: str
    split: str
    class_name: str


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(data: bytes) -> Optional[bytes]:
    """The 256-bit difference hash of an image's bytes, or None when PIL cannot read them."""
    from PIL import Image
    try:
        image = Image.open(io.BytesIO(data))
        image.draft("L", (4 * HASH_SIDE, 4 * HASH_SIDE))  # JPEG: decode at a fraction of the size
        samples = np.asarray(image.convert("L").resize((HASH_SIDE + 1, HASH_SIDE), Image.BILINEAR), np.int16)
    except Exception:  # not an image: ingestion rejects it later
        return None
    return np.packbits(samples[:, 1:] > samples[:, :-1]).tobytes()


def kind(a: File, b: File) -> str:
    if a.split != b.split:
        return ACROSS_SPLITS
    return CONFLICTING_LABELS if a.class_name != b.class_name else SAME_CLASS


def describe(exact_sets: int, near_pairs: int) -> str:
    """"2 sets of exact copies, 1 near-copy pair": what the summary, the log and the report say."""
    return (f"{exact_sets} set{'s' if exact_sets != 1 else ''} of exact copies, "
            f"{near_pairs} near-copy pair{'s' if near_pairs != 1 else ''}")


@dataclasses.dataclass
class Findings:
    rejected: list  # (relative path, reason): exact copies the policy does not ingest
    exact: list  # {"paths": [...], "kind": ...}: groups of files with the same bytes
    near: list  # {"paths": [a, b], "kind": ..., "distance": bits}

    def counts(self) -> dict:
        counts = {f"{group}_{name.replace(' ', '_')}": 0 for group in ("exact", "near")
                  for name in (ACROSS_SPLITS, CONFLICTING_LABELS, SAME_CLASS)}
        for group, found in (("exact", self.exact), ("near", self.near)):
            for item in found:
                counts[f"{group}_{item['kind'].replace(' ', '_')}"] += 1
        return counts

    def across_splits(self) -> frozenset:
        """The paths with an exact or near copy in another split (the evaluation slices on it)."""
        return frozenset(path for item in self.exact + self.near if item["kind"] == ACROSS_SPLITS
                         for path in item["paths"])

    def to_json(self) -> dict:
        return {"near_distance": NEAR_DISTANCE, "counts": self.counts(), "exact": self.exact[:LISTED],
                "near": self.near[:LISTED]}


def totals(found_json: dict) -> tuple[int, int]:
    """(sets of exact copies, near-copy pairs) of a manifest's `duplicates`, whatever it lists."""
    counts = found_json.get("counts", {})
    return (sum(v for k, v in counts.items() if k.startswith("exact_")),
            sum(v for k, v in counts.items() if k.startswith("near_")))


def find(files: Sequence[File], digests: Mapping[str, str], hashes: Mapping[str, bytes]) -> Findings:
    """Applies the policy to `files` (image candidates), given their SHA-256 digests and perceptual
    hashes by relative path (a file without a hash is not an image and takes no part)."""
    by_path = {f.relative_path: f for f in files}
    rejected, exact = [], []
    groups = collections.defaultdict(list)
    for f in files:
        if f.relative_path in hashes:
            groups[digests[f.relative_path]].append(f)
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda f: f.relative_path)
        exact.append({"paths": [f.relative_path for f in group], "kind": _worst(group)})
        for split in sorted({f.split for f in group}):
            copies = [f for f in group if f.split == split]
            if len({f.class_name for f in copies}) > 1:
                for f in copies:
                    other = next(c for c in copies if c.class_name != f.class_name)
                    rejected.append((f.relative_path, f"exact duplicate with conflicting labels: the same bytes "
                                                      f"are {other.relative_path}"))
            else:
                rejected += [(f.relative_path, f"exact duplicate of {copies[0].relative_path}") for f in copies[1:]]

    exact_pairs = {frozenset((a, b)) for item in exact for a in item["paths"] for b in item["paths"] if a != b}
    near = []
    paths = list(hashes)
    for a, b, distance in near_pairs([hashes[p] for p in paths], NEAR_DISTANCE):
        path_a, path_b = sorted((paths[a], paths[b]))
        if frozenset((path_a, path_b)) in exact_pairs:
            continue
        near.append({"paths": [path_a, path_b], "kind": kind(by_path[path_a], by_path[path_b]),
                     "distance": distance})
    order = {ACROSS_SPLITS: 0, CONFLICTING_LABELS: 1, SAME_CLASS: 2}
    near.sort(key=lambda item: (order[item["kind"]], item["distance"], item["paths"]))
    exact.sort(key=lambda item: (order[item["kind"]], item["paths"]))
    return Findings(sorted(rejected), exact, near)


def _worst(group: Sequence[File]) -> str:
    kinds = {kind(a, b) for a in group for b in group if a is not b}
    return next(k for k in (ACROSS_SPLITS, CONFLICTING_LABELS, SAME_CLASS) if k in kinds)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def near_pairs(hashes: Sequence[bytes], max_distance: int) -> list[tuple[int, int, int]]:
    """(i, j, distance) for every pair of hashes at most `max_distance` bits apart.

    Pigeonhole: split into max_distance + 1 bands, two hashes that close agree exactly on at least
    one band, so only hashes that share a band value are compared (not all N^2 / 2 pairs).
    """
    if len(hashes) < 2:
        return []
    packed = np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), -1)
    bits = np.unpackbits(packed, axis=1)
    found = {}
    for band in np.array_split(np.arange(bits.shape[1]), max_distance + 1):
        buckets = collections.defaultdict(list)
        for index, key in enumerate(np.packbits(bits[:, band], axis=1)):
            buckets[key.tobytes()].append(index)
        for members in buckets.values():
            for position, i in enumerate(members[:-1]):
                others = np.array(members[position + 1:])
                distances = _POPCOUNT[packed[others] ^ packed[i]].sum(axis=1)
                for j, distance in zip(others[distances <= max_distance], distances[distances <= max_distance]):
                    found[(i, int(j))] = int(distance)
    return sorted((i, j, d) for (i, j), d in found.items())
