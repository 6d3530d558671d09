"""A contact sheet of one class's held-out errors in a cross-validation: each image the folds' models
got wrong, with the class they gave it and their confidence, so that one can see whether a weak
class is mislabelled or misjudged before spending training time on it (docs/recipe_cv.md):

    .venv/bin/python bench/class_errors.py docs/recipe_cv_levers_default.npz \
        --data-root ../shared/datasets/clothing-dataset-small --class outwear --sheet docs/outwear_errors.png

The probabilities are those bench/recipe_cv_cpu.py --probabilities writes, over the images of
--data-root in the order its folds index them (train, then validation; classes and files sorted).
"""
import argparse
import collections
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import recipe_cv_cpu

TILE, CAPTION, COLUMNS = 160, 18, 6


def errors(probabilities: np.ndarray, labels: np.ndarray, held: np.ndarray, label: int) -> np.ndarray:
    """Indices of the held-out images of class `label` whose top class is another, the surest first."""
    predicted = probabilities.argmax(-1)
    wrong = np.flatnonzero(held & (labels == label) & (predicted != label))
    return wrong[np.argsort(-probabilities[wrong].max(-1), kind="stable")]


def sheet(paths: list, captions: list) -> Image.Image:
    rows = max(1, -(-len(paths) // COLUMNS))
    canvas = Image.new("RGB", (COLUMNS * TILE, rows * (TILE + CAPTION)), "white")
    draw = ImageDraw.Draw(canvas)
    for position, (path, caption) in enumerate(zip(paths, captions)):
        x, y = position % COLUMNS * TILE, position // COLUMNS * (TILE + CAPTION)
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((TILE, TILE))
            canvas.paste(image, (x + (TILE - image.width) // 2, y + (TILE - image.height) // 2))
        draw.text((x + 3, y + TILE + 3), caption, fill=(200, 0, 0))
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probabilities", type=Path, help="a .npz of bench/recipe_cv_cpu.py --probabilities")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--class", dest="class_name", required=True)
    parser.add_argument("--sheet", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--scoring", default="plain", help="which of the file's scorings (plain, averaged, int8)")
    args = parser.parse_args()
    stored = np.load(args.probabilities)
    paths, labels, class_names = recipe_cv_cpu.image_paths(args.data_root)
    if class_names != list(stored["class_names"]) or not np.array_equal(labels, stored["labels"]):
        print(f"error: {args.probabilities} was not written for the images of {args.data_root} "
              "(their classes or labels differ)", file=sys.stderr)
        return 2
    if args.class_name not in class_names:
        print(f"error: no class {args.class_name!r} in {args.data_root} (classes: {', '.join(class_names)})",
              file=sys.stderr)
        return 2
    label, probabilities = class_names.index(args.class_name), stored[args.scoring]
    held = stored["fold"] > 0  # a stopped cross-validation has not held every image out yet
    wrong = errors(probabilities, stored["labels"], held, label)
    predicted = probabilities[wrong].argmax(-1)
    sheet([paths[i] for i in wrong],
          [f"{class_names[p]} {probabilities[i].max():.2f}" for i, p in zip(wrong, predicted)]).save(args.sheet)
    total = int((held & (stored["labels"] == label)).sum())
    given = collections.Counter(class_names[p] for p in predicted).most_common()
    print(f"{args.class_name}: {len(wrong)} of {total} held-out images wrong (recall {1 - len(wrong) / total:.3f}), "
          f"given {', '.join(f'{name} {count}' for name, count in given) or 'nothing else'}; sheet: {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
