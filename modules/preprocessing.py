"""The Transform graph: encoded image bytes -> float image of the model's input size in [0, 1].

It is the one preprocessing graph for training, evaluation and serving: the Trainer applies
it in its tf.data input and the exported signatures embed it, so they cannot drift apart.
"""
import tensorflow as tf

from modules import features

DEFAULT_IMAGE_SIZE = 128


def declared_pixels(image_bytes: tf.Tensor) -> tf.Tensor:
    """Width x height from a JPEG, PNG, GIF or BMP header, without decoding; 0 for other bytes
    (decode_image then rejects them). Lets a server refuse a decompression bomb cheaply."""
    def header_numbers(offset, dtype, little_endian):
        raw = tf.strings.substr(image_bytes, offset, 2 * dtype.size)
        return tf.cast(tf.io.decode_raw(raw, dtype, little_endian=little_endian), tf.int64)

    def product(pair):
        return tf.abs(pair[0] * pair[1])  # BMP stores a negative height for top-down images

    pixels_of = {
        "JPEG": lambda: product(tf.cast(tf.image.extract_jpeg_shape(image_bytes), tf.int64)),
        "PNG": lambda: product(header_numbers(16, tf.int32, False)),
        "GIF": lambda: product(header_numbers(6, tf.uint16, True)),
        "BMP": lambda: product(header_numbers(18, tf.int32, True)),
    }
    return tf.case([
        (tf.equal(tf.strings.substr(image_bytes, 0, len(signature)), signature), pixels_of[image_format])
        for signature, image_format in features.IMAGE_SIGNATURES.items()
    ], default=lambda: tf.constant(0, tf.int64), exclusive=False)


def decode_and_resize(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """One encoded JPEG, PNG, GIF (first frame) or BMP (scalar string) -> [image_size, image_size, 3]
    float32 in [0, 1], resized bilinearly as Keras Resizing.

    Grayscale becomes RGB and transparent pixels are laid over white, as ingestion does
    (components/image_example_gen/image_files.py), so a served PNG with alpha is seen as the model saw it in training.
    """
    too_large = tf.debugging.assert_less_equal(
        declared_pixels(image_bytes), tf.constant(features.MAX_IMAGE_PIXELS, tf.int64),
        message=f"image has more than {features.MAX_IMAGE_PIXELS:,} pixels")
    with tf.control_dependencies([too_large]):
        image = tf.io.decode_image(image_bytes, channels=0, expand_animations=False)

    def resize(pixels):
        return tf.image.resize(pixels, [image_size, image_size])  # float32 out, whatever comes in

    def over_white(pixels):
        pixels = tf.cast(pixels, tf.float32)
        color, alpha = pixels[..., :-1], pixels[..., -1:] / 255.0
        return color * alpha + 255.0 * (1.0 - alpha)

    # decode_image gives 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels. Resizing is linear
    # in each channel, so opaque images are resized first, as uint8: the same floats as resizing the
    # full-size float image, for a fraction of the work; compositing over white is not linear, so
    # transparent ones are composited at full size, then resized.
    image = tf.switch_case(tf.shape(image)[-1] - 1, branch_fns=[
        lambda: tf.image.grayscale_to_rgb(resize(image)),
        lambda: resize(tf.image.grayscale_to_rgb(over_white(image))),
        lambda: resize(image),
        lambda: resize(over_white(image)),
    ])
    image.set_shape([image_size, image_size, 3])
    return image / 255.0


def preprocessing_fn(inputs, custom_config=None):
    """tf.Transform's entry point: decodes `image_raw`, resizes to custom_config["image_size"] and
    rescales to [0, 1]. The same graph runs in training and inside the served model."""
    image_size = int((custom_config or {}).get("image_size", DEFAULT_IMAGE_SIZE))
    # tf.Transform hands each feature over as a [batch, 1] tensor; decoding needs scalars.
    image_bytes = tf.reshape(inputs[features.IMAGE_KEY], [-1])
    images = tf.map_fn(
        lambda encoded: decode_and_resize(encoded, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32))
    return {features.TRANSFORMED_IMAGE_KEY: images}
