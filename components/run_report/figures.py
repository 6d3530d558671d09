"""The notebook's figures, and a few more, drawn with matplotlib as PNG bytes for the run report."""
from __future__ import annotations

import functools
import io
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: no display on pipeline machines
import matplotlib.pyplot as plt
import numpy as np

RIGHT, WRONG = "#1a7f37", "#cf222e"  # the notebook's green and red
# Class names are folder names: any length, any script. Matplotlib falls back glyph by glyph through
# this list (those installed); what none of them covers is written as escapes, not as empty boxes.
FONT_FAMILIES = ("DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans", "WenQuanYi Zen Hei",
                 "Droid Sans Fallback")
# Longer names are cut: a 60-character tick label squeezes a thumbnail to a few pixels.
LABEL_CHARACTERS = 16


@functools.lru_cache(maxsize=None)
def _fonts() -> tuple[tuple[str, ...], frozenset]:
    """The installed families of FONT_FAMILIES, and the code points they cover together."""
    from matplotlib import font_manager, ft2font
    families, covered = [], set()
    for family in FONT_FAMILIES:
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        families.append(family)
        covered |= set(ft2font.FT2Font(path).get_charmap())
    return tuple(families), frozenset(covered)


def label(name: str, limit: int = LABEL_CHARACTERS) -> str:
    """A class name as a figure shows it: drawable with the installed fonts, at most `limit` characters."""
    covered = _fonts()[1]
    text = "".join(c if c.isspace() or ord(c) in covered else c.encode("ascii", "backslashreplace").decode()
                   for c in name)
    if len(text) <= limit:
        return text
    # Cut in the middle: names that share a long prefix often differ at the end.
    tail = (limit - 1) // 3
    return text[:limit - 1 - tail] + "\u2026" + text[len(text) - tail:]


def _use_fonts() -> None:
    plt.rcParams["font.family"] = list(_fonts()[0]) or ["sans-serif"]


def _figure(*args, **kwargs):
    """plt.subplots with the report's fonts."""
    _use_fonts()
    return plt.subplots(*args, **kwargs)


def to_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def sample_grid(images_by_class: dict, per_class: int = 5) -> bytes:
    """A row of training images per class."""
    names = list(images_by_class)
    figure, axes = _figure(len(names), per_class, figsize=(per_class * 1.6, len(names) * 1.7), squeeze=False)
    for row, name in enumerate(names):
        for column in range(per_class):
            axis = axes[row][column]
            axis.axis("off")
            if column < len(images_by_class[name]):
                axis.imshow(images_by_class[name][column])
            if column == 0:
                axis.set_title(label(name, 24), loc="left", fontsize=10)
    return to_png(figure)


def class_distribution(counts: dict) -> bytes:
    """Images per class, one bar per split (counts: split -> class -> n)."""
    splits = list(counts)
    names = list(next(iter(counts.values())))
    positions = np.arange(len(names))
    width = 0.8 / len(splits)
    figure, axis = _figure(figsize=(10, 3.5))
    for index, split in enumerate(splits):
        axis.bar(positions + index * width, [counts[split][n] for n in names], width, label=split)
    axis.set_xticks(positions + width * (len(splits) - 1) / 2, [label(n) for n in names], rotation=30, ha="right")
    axis.set_ylabel("images")
    axis.legend()
    axis.set_title("Class distribution")
    return to_png(figure)


def training_curves(history: dict) -> bytes:
    """Accuracy and loss per epoch, train against validation."""
    return to_png(training_curves_figure(history))


def training_curves_figure(history: dict):
    figure, (accuracy, loss) = _figure(1, 2, figsize=(11, 3.5))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for axis, metric in ((accuracy, "accuracy"), (loss, "loss")):
        # Markers: a one-epoch run is a single point, which a line alone does not draw.
        axis.plot(epochs, history.get(metric, []), marker="o", markersize=4, label=f"train {metric}")
        axis.plot(epochs, history.get(f"val_{metric}", []), marker="o", markersize=4, label=f"validation {metric}")
        axis.set_xlabel("epoch")
        axis.set_title(metric.title())
        # Whole epochs, with room at both ends: a few points are never on the frame.
        axis.set_xlim(0.5, max(len(epochs), 1) + 0.5)
        axis.xaxis.get_major_locator().set_params(integer=True)
        # Below the axes, where it cannot cover a point.
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    return figure


def prediction_grid(images: Sequence[np.ndarray], probabilities: np.ndarray, labels: Sequence[int],
                    class_names: Sequence[str], rows: int = 5, columns: int = 3) -> bytes:
    """The notebook's grid: each image titled with its prediction and probability, green when right and
    red when wrong, beside a bar chart of its class probabilities (the true class's bar in blue)."""
    figure, axes = _figure(rows, 2 * columns, figsize=(4.2 * columns, 2.2 * rows), squeeze=False)
    for index in range(rows * columns):
        row, column = index // columns, 2 * (index % columns)
        image_axis, bar_axis = axes[row][column], axes[row][column + 1]
        image_axis.axis("off")
        bar_axis.axis("off")
        if index >= len(images):
            continue
        predicted = int(np.argmax(probabilities[index]))
        colour = RIGHT if predicted == labels[index] else WRONG
        image_axis.imshow(images[index])
        image_axis.set_title(f"{label(class_names[predicted])} {probabilities[index][predicted]:.0%}\n"
                             f"(true: {label(class_names[labels[index]])})", color=colour, fontsize=9)
        bar_axis.axis("on")
        bars = bar_axis.bar(range(len(class_names)), probabilities[index], color="#8c959f")
        bars[predicted].set_color(colour)
        bars[labels[index]].set_edgecolor("#0969da")
        bars[labels[index]].set_linewidth(2)
        bar_axis.set_ylim(0, 1)
        bar_axis.set_xticks(range(len(class_names)), [label(n, 8) for n in class_names], rotation=90, fontsize=6)
        bar_axis.tick_params(axis="y", labelsize=6)
    figure.tight_layout()
    return to_png(figure)


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> bytes:
    figure, axis = _figure(figsize=(7, 6))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis)
    ticks = range(len(class_names))
    axis.set_xticks(ticks, [label(n) for n in class_names], rotation=45, ha="right")
    axis.set_yticks(ticks, [label(n) for n in class_names])
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axis.text(column, row, int(count), ha="center", va="center", fontsize=8,
                      color="white" if count > matrix.max() / 2 else "black")
    axis.set_title("Confusion matrix (eval split)")
    return to_png(figure)


def precision_recall(per_class: dict) -> bytes:
    """Per-class precision and recall of the arg-max prediction."""
    names = list(per_class)
    positions = np.arange(len(names))
    figure, axis = _figure(figsize=(10, 3.5))
    for offset, metric in ((-0.2, "precision"), (0.2, "recall")):
        axis.bar(positions + offset, [per_class[n].get(metric, np.nan) for n in names], 0.4, label=metric)
    axis.set_xticks(positions, [label(n) for n in names], rotation=30, ha="right")
    axis.set_ylim(0, 1)
    axis.legend(loc="lower right")
    axis.set_title("Precision and recall per class")
    return to_png(figure)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> bytes:
    """Top-label reliability diagram: accuracy against confidence; the diagonal is perfect calibration."""
    confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    centres, accuracy, counts = [], [], []
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            centres.append(confidence[in_bin].mean())
            accuracy.append(correct[in_bin].mean())
            counts.append(int(in_bin.sum()))
    figure, axis = _figure(figsize=(4.5, 4))
    axis.plot([0, 1], [0, 1], linestyle="--", color="#8c959f", label="perfectly calibrated")
    axis.plot(centres, accuracy, marker="o", label="model")
    for x, y, n in zip(centres, accuracy, counts):
        axis.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.set_xlabel("confidence (top probability)")
    axis.set_ylabel("accuracy")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.legend(loc="upper left")
    axis.set_title("Calibration")
    return to_png(figure)


def image_pairs(pairs: Sequence[tuple], columns: int = 2) -> bytes:
    """Pairs of images side by side, each pair titled: (image, image, title)."""
    rows = max(1, -(-len(pairs) // columns))
    figure, axes = _figure(rows, 2 * columns, figsize=(2.6 * 2 * columns, 2.9 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, (left, right, title) in enumerate(pairs):
        row, column = index // columns, 2 * (index % columns)
        axes[row][column].imshow(left)
        axes[row][column + 1].imshow(right)
        axes[row][column].set_title(title, loc="left", fontsize=9)
    return to_png(figure)


def mistakes(images: Sequence[np.ndarray], probabilities: np.ndarray, labels: Sequence[int],
             class_names: Sequence[str], columns: int = 4) -> bytes:
    """The most confident wrong predictions, given in that order."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = _figure(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            predicted = int(np.argmax(probabilities[index]))
            axis.imshow(images[index])
            axis.set_title(f"predicted {label(class_names[predicted])} {probabilities[index][predicted]:.0%}\n"
                           f"true {label(class_names[labels[index]])}", color=WRONG, fontsize=9)
    return to_png(figure)
