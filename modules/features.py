"""Feature names of the ingested tf.Examples, shared by ingestion, Transform, Trainer and Evaluator."""
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

# Output of the Transform graph: the decoded, resized, rescaled image.
TRANSFORMED_IMAGE_KEY = "image"


def make_example(image_bytes: bytes, label: int, label_name: str, filename: str) -> tf.train.Example:
    def _bytes(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    return tf.train.Example(features=tf.train.Features(feature={
        IMAGE_KEY: _bytes(image_bytes),
        LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        LABEL_NAME_KEY: _bytes(label_name.encode()),
        FILENAME_KEY: _bytes(filename.encode()),
    }))
