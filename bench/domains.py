"""Small image data sets of other kinds than the clothing photographs, for choosing a default recipe
that travels (docs/models.md, "A recipe that depends on the data"), and the table of recipes across them.

    .venv/bin/python bench/domains.py make --data-root ../shared/datasets/clothing-dataset-small --output /tmp/domains
    .venv/bin/python bench/recipe_cv_cpu.py --data-root /tmp/domains/grey28 --recipe NAME JSON --folds 2 \
        --output docs/domains/grey28.json     # each recipe, each data set: docs/recipe_cv.md
    .venv/bin/python bench/domains.py table docs/domains/*.json

The data sets, each `train/` and `validation/` folders of class subfolders (4 of 5 images a class
in train), so the pipeline takes them as they are (`image-pipeline run --data-root /tmp/domains/grey28`):
  grey28    the clothing images in greyscale at 28 x 28 pixels (the form of Fashion-MNIST)
  colour32  the clothing images in colour at 32 x 32 pixels (the form of CIFAR-10)
  photos    the clothing photographs as they are (the clothing data's kind, as few images as the others)
  shapes    drawn, not photographed: ten kinds of shape and pattern (64 x 64, random colours,
            positions, sizes and noise), nothing ImageNet's photographs resemble
Each takes `--per-class` images a class (the clothing ones drawn from train + validation, seed 111),
so a recipe's 2-fold cross-validation trains on half of them and scores the other half.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SEED = 111
TRAIN_SHARE = 0.8
SHAPES = ("circle", "square", "triangle", "cross", "ring", "horizontal_stripes", "vertical_stripes",
          "diagonal_stripes", "checkerboard", "dots")
SHAPE_SIDE = 64


def clothing_images(data_root: Path, per_class: int, rng: np.random.Generator) -> dict:
    """{class: [paths]}: `per_class` images a class drawn from train + validation."""
    chosen = {}
    for folder in sorted(p for p in (data_root / "train").iterdir() if p.is_dir()):
        paths = sorted(folder.iterdir()) + sorted((data_root / "validation" / folder.name).glob("*"))
        if len(paths) < per_class:
            raise SystemExit(f"domains.py: error: {folder.name} has {len(paths)} images, fewer than --per-class")
        chosen[folder.name] = [paths[i] for i in sorted(rng.choice(len(paths), per_class, replace=False))]
    return chosen


def shrunk(path: Path, side: int, mode: str) -> Image.Image:
    """The whole picture, squashed to side x side (as Fashion-MNIST and CIFAR-10 show theirs)."""
    with Image.open(path) as image:
        return image.convert("RGB").resize((side, side), Image.LANCZOS).convert(mode)


def shape(kind: str, rng: np.random.Generator) -> Image.Image:
    """One drawn picture of `kind`: random colours, size, position and pixel noise."""
    side = SHAPE_SIDE
    background, ink = (tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(2))
    while sum(abs(a - b) for a, b in zip(background, ink)) < 150:  # keep the shape visible
        ink = tuple(int(c) for c in rng.integers(0, 256, 3))
    image = Image.new("RGB", (side, side), background)
    draw = ImageDraw.Draw(image)
    size = int(rng.integers(side // 3, side - 8))
    x0, y0 = (int(v) for v in rng.integers(2, side - size - 1, 2))
    box = (x0, y0, x0 + size, y0 + size)
    width = max(2, size // 8)
    period = int(rng.integers(5, 11))
    if kind == "circle":
        draw.ellipse(box, fill=ink)
    elif kind == "square":
        draw.rectangle(box, fill=ink)
    elif kind == "triangle":
        draw.polygon([(x0 + size // 2, y0), (x0, y0 + size), (x0 + size, y0 + size)], fill=ink)
    elif kind == "cross":
        middle = size // 2
        draw.rectangle((x0 + middle - width, y0, x0 + middle + width, y0 + size), fill=ink)
        draw.rectangle((x0, y0 + middle - width, x0 + size, y0 + middle + width), fill=ink)
    elif kind == "ring":
        draw.ellipse(box, outline=ink, width=width)
    elif kind == "horizontal_stripes":
        for y in range(0, side, period):
            draw.rectangle((0, y, side, y + period // 2 - 1), fill=ink)
    elif kind == "vertical_stripes":
        for x in range(0, side, period):
            draw.rectangle((x, 0, x + period // 2 - 1, side), fill=ink)
    elif kind == "diagonal_stripes":
        for offset in range(-side, side, period):
            draw.line((offset, 0, offset + side, side), fill=ink, width=max(1, period // 2))
    elif kind == "checkerboard":
        for y in range(0, side, period):
            for x in range(0, side, period):
                if (x // period + y // period) % 2 == 0:
                    draw.rectangle((x, y, x + period - 1, y + period - 1), fill=ink)
    elif kind == "dots":
        for _ in range(int(rng.integers(6, 14))):
            cx, cy = (int(v) for v in rng.integers(4, side - 4, 2))
            radius = int(rng.integers(2, 5))
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=ink)
    else:
        raise ValueError(kind)
    noisy = np.asarray(image, np.int16) + rng.normal(0, 12, (side, side, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write(pictures: dict, root: Path) -> None:
    """{class: [PIL images]} -> root/{train,validation}/class/NNNN.png, 4 of 5 in train."""
    for name, images in pictures.items():
        cut = round(len(images) * TRAIN_SHARE)
        for split, part in (("train", images[:cut]), ("validation", images[cut:])):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for number, image in enumerate(part):
                image.save(folder / f"{number:04d}.png")


def make(args) -> int:
    if args.output.exists() and any(args.output.iterdir()):
        raise SystemExit(f"domains.py: error: {args.output} is not empty")
    rng = np.random.default_rng(SEED)
    chosen = clothing_images(args.data_root, args.per_class, rng)
    made = {
        "photos": {name: [Image.open(p).convert("RGB") for p in paths] for name, paths in chosen.items()},
        "grey28": {name: [shrunk(p, 28, "L") for p in paths] for name, paths in chosen.items()},
        "colour32": {name: [shrunk(p, 32, "RGB") for p in paths] for name, paths in chosen.items()},
        "shapes": {kind: [shape(kind, rng) for _ in range(args.per_class)] for kind in SHAPES},
    }
    for name, pictures in made.items():
        write(pictures, args.output / name)
        print(f"{args.output / name}: {len(pictures)} classes, {sum(map(len, pictures.values()))} images")
    return 0


def table(paths: list) -> str:
    """One row a (data set, recipe) from recipe_cv_cpu.py's results files (one a data set), each recipe
    paired fold by fold with the data set's first; then each data set's recall per class."""
    from recipe_cv_cpu import summaries
    rows = ["| data set | recipe | folds | CV accuracy | vs the first (paired, points ± s.e.) | per fold | "
            "balanced acc | weakest class (mean recall) | training s a fold |", "|---|---|---|---|---|---|---|---|---|"]
    recalls = []
    for path in paths:
        results = json.loads(Path(path).read_text())
        names = next(iter(results.values()))["class_names"]
        recalls += [f"{Path(path).stem}:", "", "| recipe | " + " | ".join(names) + " |",
                    "|---" * (len(names) + 1) + "|"]
        for name, entry, accuracy, recall, versus in summaries(results):
            folds, weakest = entry["per_fold"], int(recall.argmin())
            rows.append(f"| {Path(path).stem} ({entry['images']} images) | {name} | {len(folds)}/{entry['folds']} | "
                        f"{accuracy.mean():.4f} | {versus} | {', '.join(f'{a:.4f}' for a in accuracy)} | "
                        f"{np.mean([f['balanced_accuracy'] for f in folds]):.4f} | {names[weakest]} "
                        f"{recall[weakest]:.3f} | {np.mean([f['train_seconds'] for f in folds]):.0f} |")
            recalls.append(f"| {name} | " + " | ".join(f"{r:.2f}" for r in recall) + " |")
        recalls.append("")
    return "\n".join(rows) + "\n\nRecall per class, the mean over the folds:\n\n" + "\n".join(recalls).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("make", help="write the data sets")
    making.add_argument("--data-root", type=Path, required=True, help="the clothing data (train/, validation/)")
    making.add_argument("--output", type=Path, required=True, help="an empty or new folder")
    making.add_argument("--per-class", type=int, default=50)
    tabling = commands.add_parser("table", help="print recipe_cv_cpu.py results files as Markdown tables")
    tabling.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    if args.command == "make":
        return make(args)
    print(table(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
