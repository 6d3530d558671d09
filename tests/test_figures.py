"""The report's figures with real-world class names: long, in any script, and runs of one epoch."""
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from components.run_report import figures

MAGENTA = (255, 0, 255)
SHORT = ["hat", "shoes", "skirt"]
LONG = ["a very long class name that someone typed as a folder name " + s for s in SHORT]
CHINESE = ["帽子", "鞋子", "裙子"]


def pixels(png: bytes, colour) -> int:
    """How many pixels of the PNG are (about) `colour`."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(colour)).sum(axis=2) < 60).sum())


def magenta_images(n: int) -> list:
    return [np.full((32, 32, 3), MAGENTA, np.uint8) for _ in range(n)]


def grid(class_names) -> bytes:
    probabilities = np.tile([0.7, 0.2, 0.1], (15, 1))
    return figures.prediction_grid(magenta_images(15), probabilities, [0, 1, 2] * 5, class_names)


def gallery(class_names) -> bytes:
    return figures.mistakes(magenta_images(8), np.tile([0.7, 0.2, 0.1], (8, 1)), [1] * 8, class_names)


@pytest.mark.parametrize("draw", [grid, gallery], ids=["prediction grid", "mistakes"])
def test_long_class_names_leave_the_thumbnails_their_size(draw):
    # The thumbnails are magenta: their area in the PNG is what the reader gets to see.
    assert pixels(draw(LONG), MAGENTA) >= 0.7 * pixels(draw(SHORT), MAGENTA) > 0


def test_a_name_is_cut_to_a_readable_length_that_keeps_names_apart():
    shown = [figures.label(name) for name in LONG]
    assert len(set(shown)) == 3 and all(len(s) == figures.LABEL_CHARACTERS and "\u2026" in s for s in shown)
    assert figures.label("long sleeve") == "long sleeve"


def test_names_in_any_script_draw_without_missing_glyph_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid(CHINESE)
        figures.confusion_matrix(np.eye(3, dtype=int), CHINESE)
        figures.class_distribution({"train": dict(zip(CHINESE, [3, 4, 5]))})
    assert not [w for w in caught if "missing from" in str(w.message)], [str(w.message) for w in caught]
    # Drawn in a font that has the characters, or written as escapes: never an empty box.
    shown = figures.label(CHINESE[0])
    assert shown == CHINESE[0] or shown.startswith("\\u5e3d")


def test_a_single_epoch_still_draws_its_points():
    blue = (31, 119, 180)  # matplotlib's first colour: the train curve
    one_epoch = figures.training_curves({"loss": [1.2], "val_loss": [1.3], "accuracy": [0.4], "val_accuracy": [0.3]})
    assert pixels(one_epoch, blue) > 20


def test_the_legend_of_a_short_run_covers_none_of_its_points():
    history = {"loss": [1.2], "val_loss": [1.3], "accuracy": [0.4], "val_accuracy": [0.3]}
    figure = figures.training_curves_figure(history)
    figure.canvas.draw()
    for axis in figure.axes:
        legend, frame = axis.get_legend().get_window_extent(), axis.get_window_extent()
        assert legend.y1 <= frame.y0  # under the plotting area, not on it
        low, high = axis.get_xlim()
        assert low < 1 - 0.25 and high > 1 + 0.25  # the one epoch's points away from the frame
    figures.plt.close(figure)
