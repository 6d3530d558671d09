"""Builds the small sample bundled in pipeline/sample from the full clothing dataset.

Stratified by class, chosen with seed 111, downscaled to 256 px on the long side so
the repository stays small; the model resizes to its own input size anyway.

    .venv/bin/python scripts/make_sample.py ../shared/datasets/clothing-dataset-small pipeline/sample
"""
import random
import sys
from pathlib import Path

from PIL import Image

PER_CLASS = {"train": 24, "validation": 8}
LONG_SIDE = 256


def main(source: Path, target: Path) -> None:
    rng = random.Random(111)
    for split, count in PER_CLASS.items():
        for class_dir in sorted(p for p in (source / split).iterdir() if p.is_dir()):
            files = sorted(class_dir.glob("*.jpg"))
            out_dir = target / split / class_dir.name
            out_dir.mkdir(parents=True, exist_ok=True)
            for path in rng.sample(files, min(count, len(files))):
                image = Image.open(path).convert("RGB")
                image.thumbnail((LONG_SIDE, LONG_SIDE))
                image.save(out_dir / path.name, quality=90)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
