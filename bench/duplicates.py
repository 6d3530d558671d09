"""Duplicates in a dataset, and whether the near-copy threshold separates copies from different photos.

    .venv/bin/python bench/duplicates.py --data-root ../shared/datasets/clothing-dataset-small

Prints JSON: the time fingerprinting takes in one process (reading every file, SHA-256, the 256-bit
difference hash; ingestion's Beam workers share it out), what the policy finds
(components/image_example_gen/duplicates.py), the hash distances of synthetic near copies of 50 random
images (resized to 70%, JPEG quality 60) to their originals, and the distances of the closest pairs in
the data.
"""
import argparse
import io
import json
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image


from components.image_example_gen import duplicates, layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    args = parser.parse_args()
    root = str(Path(args.data_root).resolve())

    started = time.perf_counter()
    scanned = layout.scan(root)
    digests, hashes = {}, {}
    for candidate in scanned.candidates:
        data = Path(candidate.path).read_bytes()
        digests[candidate.relative_path] = duplicates.digest(data)
        hashes[candidate.relative_path] = duplicates.perceptual_hash(data)
    paths = [p for p, h in hashes.items() if h is not None]
    found = duplicates.find([duplicates.File(c.relative_path, c.split, c.class_name) for c in scanned.candidates],
                            digests, {p: hashes[p] for p in paths})
    seconds = time.perf_counter() - started

    rng = random.Random(111)
    copy_distances = []
    for path in rng.sample(paths, min(50, len(paths))):
        image = Image.open(Path(root, path)).convert("RGB")
        image = image.resize((image.width * 7 // 10, image.height * 7 // 10))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=60)
        copy_distances.append(_distance(hashes[path], duplicates.perceptual_hash(buffer.getvalue())))
    closest = duplicates.near_pairs([hashes[p] for p in paths], 16)
    print(json.dumps({
        "images": len(scanned.candidates),
        "fingerprint_seconds": round(seconds, 1),
        "found": found.counts(),
        "near_pairs": found.near,
        "synthetic_copy_distances": sorted(copy_distances),
        "closest_pair_distances": sorted(d for _, _, d in closest)[:20],
        "near_distance": duplicates.NEAR_DISTANCE,
    }, indent=2))


def _distance(a: bytes, b: bytes) -> int:
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


if __name__ == "__main__":
    main()
