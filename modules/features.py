"""Feature names of the ingested tf.Examples, shared by ingestion, Transform, Trainer and Evaluator."""
from typing import Mapping, Optional

import tensorflow as tf

IMAGE_KEY = "image_raw"      # encoded image bytes: an upright RGB JPEG (components/image_example_gen/image_files.py)
LABEL_KEY = "label"          # int64 index into the sorted class list
LABEL_NAME_KEY = "label_name"  # class folder name; the Evaluator slices on it
FILENAME_KEY = "filename"    # path relative to the data root, for tracing a prediction back

# Leading bytes of the formats TensorFlow's decode_image reads, the ones ingestion accepts and the
# served model decodes.
IMAGE_SIGNATURES = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"GIF87a": "GIF", b"GIF89a": "GIF",
                    b"BM": "BMP"}

# Larger images are refused by ingestion and by the served model alike, read from the header
# before decoding: more than any camera photo, and a small file claiming more is a decompression
# bomb (64 MP of RGBA is 256 MB once decoded, and the float copy four times that).
MAX_IMAGE_PIXELS = 64_000_000

# Properties of the original image, recorded by ingestion for the Evaluator to slice on (TFMA): never
# read by Transform or the served model, and no gate uses them; the Trainer counts SIZE_KEY's
# smallest bucket only, for its recipe. The buckets: components/image_example_gen/image_files.py,
# `properties`, and size_bucket below.
SIZE_KEY = "original_size"        # the shorter side, bucketed (size_bucket)
COLOUR_KEY = "original_colour"    # rgb, greyscale, cmyk or transparent
BRIGHTNESS_KEY = "brightness"     # dark, normal or bright
ASPECT_KEY = "aspect"             # square, portrait, landscape or extreme
NEAR_COPY_KEY = "near_copy_in_other_split"  # yes or no (components/image_example_gen/duplicates.py)
SLICE_KEYS = (SIZE_KEY, COLOUR_KEY, BRIGHTNESS_KEY, ASPECT_KEY, NEAR_COPY_KEY)

# SIZE_KEY's buckets of the shorter side. The Trainer also reads the first: a training split of
# mostly small images may take another recipe (modules/registry.DataProfile).
SIZE_BUCKETS = ((128, "under 128 px"), (256, "128-255 px"), (512, "256-511 px"))
SMALL_SIZE = SIZE_BUCKETS[0][1]


def size_bucket(shorter_side: int) -> str:
    return next((name for limit, name in SIZE_BUCKETS if shorter_side < limit), "512 px or more")

# Output of the Transform graph: the decoded, resized, rescaled image.
TRANSFORMED_IMAGE_KEY = "image"


def make_example(image_bytes: bytes, label: int, label_name: str, filename: str,
                 properties: Optional[Mapping[str, str]] = None) -> tf.train.Example:
    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        IMAGE_KEY: _bytes(image_bytes),
        LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        LABEL_NAME_KEY: _bytes(label_name.encode()),
        FILENAME_KEY: _bytes(filename.encode()),
        **{key: _bytes(value.encode()) for key, value in (properties or {}).items()},
    }))
