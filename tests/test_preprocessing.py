"""The Transform graph decodes any supported image, resizes it and rescales it to [0, 1]."""
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from modules import features, preprocessing
from components.image_example_gen import image_files
from tests import corpus
from tests.conftest import SMALL_IMAGE_SIZE, jpeg_bytes


def run_preprocessing(images, image_size):
    inputs = {features.IMAGE_KEY: tf.constant([[image] for image in images])}  # [batch, 1], as TFT gives
    return preprocessing.preprocessing_fn(inputs, {"image_size": image_size})[features.TRANSFORMED_IMAGE_KEY].numpy()


@pytest.mark.parametrize("image_size", [64, 128])
def test_output_shape_follows_configured_size(image_size):
    images = run_preprocessing([jpeg_bytes(size=(400, 533)), jpeg_bytes(size=(30, 20))], image_size)
    assert images.shape == (2, image_size, image_size, 3)
    assert images.dtype == np.float32


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "GIF"])
def test_colours_are_rescaled_to_unit_range(fmt):
    image = run_preprocessing([jpeg_bytes(color=(255, 0, 128), fmt=fmt)], 16)[0]
    np.testing.assert_allclose(image.mean(axis=(0, 1)), [1.0, 0.0, 128 / 255], atol=0.02)
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_default_size_is_the_notebooks_128():
    inputs = {features.IMAGE_KEY: tf.constant([[jpeg_bytes()]])}
    assert preprocessing.preprocessing_fn(inputs)[features.TRANSFORMED_IMAGE_KEY].shape == (1, 128, 128, 3)


def test_transform_graph_from_beam_applies_to_raw_bytes(transform_output):
    layer = transform_output.transform_features_layer()
    transformed = layer({features.IMAGE_KEY: tf.constant([[jpeg_bytes(color=(0, 255, 0))]])})
    image = transformed[features.TRANSFORMED_IMAGE_KEY].numpy()
    assert image.shape == (1, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3)
    np.testing.assert_allclose(image[0].mean(axis=(0, 1)), [0.0, 1.0, 0.0], atol=0.02)


@pytest.mark.parametrize("kind", ["RGBA", "LA", "L"])
def test_the_graph_sees_what_ingestion_stores(kind):
    """Transparency over white and gray to RGB, in the graph as in components/image_example_gen/image_files.py, so a
    served PNG with alpha looks to the model as its training images did."""
    pixels = np.zeros((40, 40, 4), np.uint8)
    pixels[..., 1] = 200
    pixels[:, :20, 3] = 255
    original = corpus.encode(Image.fromarray(pixels, "RGBA").convert(kind), "PNG")
    reason, stored = image_files.normalize(original)
    assert reason is None
    served, trained = run_preprocessing([original, stored], 40)
    if kind != "L":
        np.testing.assert_allclose(served[:, 24:], 1.0)  # transparent half: white
    assert np.abs(served - trained).mean() < 0.01  # the stored copy differs by JPEG re-encoding only


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP"])
def test_pixel_count_is_read_from_the_header(fmt):
    image = corpus.encode(Image.new("RGB", (37, 23)), fmt)
    assert preprocessing.declared_pixels(tf.constant(image)).numpy() == 37 * 23


def test_an_image_over_the_pixel_limit_is_refused_before_decoding():
    bomb = corpus.encode(Image.new("1", (10_000, 7_000)), "PNG")  # 70 MP in a few kB
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than 64,000,000 pixels"):
        run_preprocessing([bomb], 16)


@pytest.mark.parametrize("kind", ["L", "LA", "RGB", "RGBA"])
def test_resizing_before_colour_conversion_changes_no_pixel(kind):
    """decode_and_resize resizes opaque images as uint8, before converting them to float RGB: the
    same floats, to the bit, as converting the full-size image first and resizing that."""
    channels = len(kind)
    pixels = np.random.default_rng(111).integers(0, 256, (301, 457, channels), np.uint8)
    encoded = corpus.encode(Image.fromarray(pixels[..., 0] if channels == 1 else pixels, kind), "PNG")
    full = pixels.astype(np.float32)
    if kind in ("LA", "RGBA"):
        alpha = full[..., -1:] / 255.0
        full = full[..., :-1] * alpha + 255.0 * (1.0 - alpha)
    full = np.broadcast_to(full, (*full.shape[:2], 3)) if full.shape[-1] == 1 else full
    expected = tf.image.resize(full, [97, 97]).numpy() / 255.0
    np.testing.assert_array_equal(preprocessing.decode_and_resize(tf.constant(encoded), 97).numpy(), expected)
