"""Serving signatures of the exported SavedModel.

Both signatures run the same Transform graph and model and return the same outputs:
  probabilities  float [batch, num_classes]
  class_id       int64 [batch]   arg-max of probabilities
  class_name     string [batch]  the class names travel inside the model
  serving_default  input `examples`:    serialized tf.Example with `image_raw` (what TFMA uses)
  serving_jpeg     input `image_bytes`: encoded image bytes; TF Serving's REST API accepts
                                        base64 for inputs whose name ends in `_bytes`.
The class list is also written to assets.extra/class_names.txt for clients (TF Serving
ignores that folder).

Beside the SavedModel, `model.tflite` is the same network in TensorFlow Lite (float32), for edge and
low-latency clients, and `model_int8.tflite` (unless the run was told not to) the same quantized to
int8, a quarter of the bytes: each takes the image as the Transform graph leaves it ([1, size, size, 3]
floats in [0, 1], modules/preprocessing.decode_and_resize) and returns the probabilities. Each one's
SHA-256 is recorded in assets.extra/<file>.sha256, so that a client can tell it belongs to this
SavedModel.
"""
import contextlib
import hashlib
import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from modules import features

SERVING_DEFAULT = "serving_default"
SERVING_JPEG = "serving_jpeg"
CLASS_NAMES_FILE = os.path.join("assets.extra", "class_names.txt")
TFLITE_FILE = "model.tflite"
TFLITE_INT8_FILE = "model_int8.tflite"
# Each TensorFlow Lite file a version holds, by the runtime that runs it (modules/values.RUNTIMES).
TFLITE_FILES = {"tflite": TFLITE_FILE, "tflite_int8": TFLITE_INT8_FILE}
# The int8 model's activation ranges are calibrated on this many training images: the number its
# cross-validation used (docs/benchmarks.md, "`model_int8.tflite` across the cross-validation folds").
INT8_CALIBRATION_IMAGES = 200


def tflite_digest_file(name: str) -> str:
    """Where the SHA-256 of the TensorFlow Lite file `name` is recorded, beside the class list."""
    return os.path.join("assets.extra", name + ".sha256")


def export_serving_model(model: tf.keras.Model, tft_output: tft.TFTransformOutput,
                         class_names: list, export_dir: str) -> None:
    """Saves `model` behind the Transform graph as a SavedModel TF Serving loads, into `export_dir`.

    Two signatures, `serving_default` (serialized tf.Examples, as TFMA feeds them) and
    `serving_jpeg` (encoded image bytes, as REST clients send them), both returning
    probabilities, class_id and class_name; the class list is also written to
    assets.extra/class_names.txt, one name a line.
    """
    # Tracked as an attribute so that the Transform graph's assets are saved with the model.
    model.tft_layer = tft_output.transform_features_layer()
    image_feature_spec = {features.IMAGE_KEY: tft_output.raw_feature_spec()[features.IMAGE_KEY]}

    def predict(image_bytes):
        transformed = model.tft_layer({features.IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})
        probabilities = model(transformed[features.TRANSFORMED_IMAGE_KEY], training=False)
        class_id = tf.argmax(probabilities, axis=-1)
        return {
            "probabilities": probabilities,
            "class_id": class_id,
            "class_name": tf.gather(tf.constant(class_names), class_id),
        }

    # Plain traces, as the Trainer's steps (modules/trainer.trace_without_autograph): nothing here
    # branches on a tensor, and AutoGraph's rewriting doubled the default model's export (42 s, not 22).
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def serve_examples(serialized_examples):
        parsed = tf.io.parse_example(serialized_examples, image_feature_spec)
        return predict(tf.reshape(parsed[features.IMAGE_KEY], [-1]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")], autograph=False)
    def serve_image_bytes(image_bytes):
        return predict(image_bytes)

    model.save(export_dir, save_format="tf", signatures={
        SERVING_DEFAULT: serve_examples.get_concrete_function(),
        SERVING_JPEG: serve_image_bytes.get_concrete_function(),
    })
    tf.io.gfile.makedirs(os.path.join(export_dir, os.path.dirname(CLASS_NAMES_FILE)))
    with tf.io.gfile.GFile(os.path.join(export_dir, CLASS_NAMES_FILE), "w") as f:
        f.write("\n".join(class_names) + "\n")


def read_class_names(export_dir: str) -> list[str]:
    """The class list of an exported model, one name a line: a name may hold spaces (ingestion refuses
    control characters), so the file is split on newlines only."""
    with tf.io.gfile.GFile(os.path.join(export_dir, CLASS_NAMES_FILE)) as f:
        return f.read().split("\n")[:-1]


def tflite_network(model: tf.keras.Model, image_size: int):
    """The network alone as the function TensorFlow Lite converts: one decoded image in, as the
    Transform graph leaves it, its probabilities out."""
    return tf.function(lambda image: model(image, training=False), autograph=False).get_concrete_function(
        tf.TensorSpec([1, image_size, image_size, 3], tf.float32, name="image"))


def tflite_model(model: tf.keras.Model, image_size: int, quantization: str | None = None,
                 calibration=None) -> bytes:
    """`model` (the network alone) as a TensorFlow Lite model, its input and output float whatever
    the quantization, so that every such model is called the same way: float32 (None); "dynamic",
    its weights int8 and its activations quantized at run time; or "int8", weights and activations
    int8, the activations' ranges calibrated on `calibration` (a function returning decoded images
    [1, size, size, 3], called once)."""
    # The converter saves its trackable object as a SavedModel before converting. Handed the Keras
    # model, that save traces every layer's call (~25 s for Lite1); a module holding only the
    # variables gives the same bytes in a few seconds (docs/benchmarks.md).
    holder = tf.Module()
    holder.network_variables = list(model.variables)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([tflite_network(model, image_size)], holder)
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "int8":
        converter.representative_dataset = lambda: ([image] for image in calibration())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _native_logs_quiet():
        return converter.convert()


class TFLiteNetwork:
    """A TensorFlow Lite model of the network on XNNPACK with every core, called with one decoded
    image [1, size, size, 3] and returning its probabilities [classes].

    It runs in LiteRT (ai_edge_litert), the interpreter that replaces tf.lite.Interpreter (deprecated
    in TensorFlow 2.18): the same results, and its newer XNNPACK is quicker (docs/benchmarks.md).
    `interpreter` takes another interpreter class with the same API, for comparing the two."""

    def __init__(self, content: bytes, interpreter=None):
        if interpreter is None:
            from ai_edge_litert.interpreter import Interpreter as interpreter
        with _native_logs_quiet():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
            self._interpreter = interpreter(model_content=content, num_threads=os.cpu_count())
            self._interpreter.allocate_tensors()
        image, output = self._interpreter.get_input_details()[0], self._interpreter.get_output_details()[0]
        self._image, self._output = image["index"], output["index"]
        self.image_size, self.num_classes = int(image["shape"][1]), int(output["shape"][-1])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        self._interpreter.set_tensor(self._image, image)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0].copy()


def export_tflite(model: tf.keras.Model, image_size: int, export_dir: str, calibration=None) -> None:
    """Writes `model` (the network alone) as TensorFlow Lite into export_dir: model.tflite in
    float32 and, given `calibration` (as tflite_model takes it), model_int8.tflite; records each
    file's SHA-256 beside the class list."""
    models = {TFLITE_FILE: tflite_model(model, image_size)}
    if calibration is not None:
        models[TFLITE_INT8_FILE] = tflite_model(model, image_size, "int8", calibration)
    tf.io.gfile.makedirs(os.path.join(export_dir, os.path.dirname(tflite_digest_file(TFLITE_FILE))))
    for name, content in models.items():
        with tf.io.gfile.GFile(os.path.join(export_dir, name), "wb") as f:
            f.write(content)
        with tf.io.gfile.GFile(os.path.join(export_dir, tflite_digest_file(name)), "w") as f:
            f.write(hashlib.sha256(content).hexdigest() + "\n")


@contextlib.contextmanager
def _native_logs_quiet():
    """TensorFlow Lite's C++ code (the converter, the interpreter) logs straight to the process's
    stderr ("Ignored output_format.", "Created TensorFlow Lite XNNPACK delegate"), past
    TF_CPP_MIN_LOG_LEVEL: where that level asks for quiet (the CLI without --verbose), stderr is
    closed to it for the call. Errors still raise in Python."""
    if int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 2:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def read_tflite_digest(export_dir: str, name: str = TFLITE_FILE) -> str | None:
    """The SHA-256 of the TensorFlow Lite file `name` exported with this SavedModel, or None if none was."""
    path = os.path.join(export_dir, tflite_digest_file(name))
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return f.read().strip()


def tflite_input(image_size: int):
    """A function from one encoded image (bytes) to the TensorFlow Lite network's input, [1, size,
    size, 3] floats in [0, 1], decoded as the Transform graph decodes it."""
    from modules import preprocessing
    # A concrete function: calling it skips tf.function's argument matching, a tenth of a millisecond a request.
    decode = tf.function(lambda data: preprocessing.decode_and_resize(data, image_size)[tf.newaxis]
                         ).get_concrete_function(tf.TensorSpec([], tf.string))
    return lambda data: decode(tf.constant(data)).numpy()


def load_tflite(export_dir: str, name: str = TFLITE_FILE):
    """The TensorFlow Lite file `name` beside the SavedModel in `export_dir` as a function from
    encoded images to their probabilities [n, classes]: each decoded as the Transform graph decodes
    it, then the network in TensorFlow Lite (XNNPACK, every core). ValueError, naming both, when the
    file is missing or is not the one exported with this SavedModel."""
    path = os.path.join(export_dir, name)
    if not tf.io.gfile.exists(path):
        raise ValueError(f"{path}: no such file; this model was pushed without it")
    with tf.io.gfile.GFile(path, "rb") as f:
        content = f.read()
    if hashlib.sha256(content).hexdigest() != read_tflite_digest(export_dir, name):
        raise ValueError(f"{path}: does not match the SavedModel in {export_dir} (its recorded "
                         f"{tflite_digest_file(name)} differs: another version's file?)")
    network = TFLiteNetwork(content)
    decode = tflite_input(network.image_size)

    def predict(images) -> np.ndarray:
        rows = [network(decode(data)) for data in images]
        return np.stack(rows) if rows else np.zeros((0, network.num_classes), np.float32)
    return predict
