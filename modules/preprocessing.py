"""The Transform graph: encoded image bytes -> float image of the model's input size in [0, 1].

It is the one preprocessing graph for training, evaluation and serving: the Trainer applies
it in its tf.data input and the exported signatures embed it, so they cannot drift apart.
"""
import tensorflow as tf

from modules import features

DEFAULT_IMAGE_SIZE = 128


def decode_and_resize(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """One encoded image (scalar string) -> [image_size, image_size, 3] float32 in [0, 1]."""
    # decode_image, not decode_jpeg: serving clients may send PNG, GIF or BMP too.
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image = tf.image.resize(image, [image_size, image_size])  # bilinear, as Keras Resizing
    return image / 255.0


def preprocessing_fn(inputs, custom_config=None):
    image_size = int((custom_config or {}).get("image_size", DEFAULT_IMAGE_SIZE))
    # tf.Transform hands each feature over as a [batch, 1] tensor; decoding needs scalars.
    image_bytes = tf.reshape(inputs[features.IMAGE_KEY], [-1])
    images = tf.map_fn(
        lambda encoded: decode_and_resize(encoded, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32))
    return {features.TRANSFORMED_IMAGE_KEY: images}
