"""Client side of a pushed model: find it, load it, predict, and score it on a folder of images."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from components.image_example_gen import image_files, layout
from components.latest_pushed_model import versions
from modules import exporter
from modules.errors import InputError

PREDICT_BATCH = 32


class ModelPathError(InputError):
    pass


def resolve_model_dir(path: str | os.PathLike) -> Path:
    """A pushed model's version directory, given it or the serving base directory (newest version)."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    if not path.is_dir():
        raise ModelPathError(f"{path}: no such model directory")
    versions = version_dirs(path)
    if not versions:
        raise ModelPathError(f"{path}: neither a SavedModel (no saved_model.pb) nor a serving directory of versions")
    return versions[-1]


version_dirs = versions.local_dirs  # the model versions of a local serving directory, oldest first


class PushedModel:
    """A pushed model, run as its SavedModel (the `serving_jpeg` signature, as TF Serving runs it) or,
    with runtime "tflite" or "tflite_int8", as the model.tflite or model_int8.tflite beside it
    behind the same decoding (modules/exporter.TFLITE_FILES)."""

    def __init__(self, path: str | os.PathLike, runtime: str = "saved_model"):
        import tensorflow as tf
        self._tf = tf
        self.directory = resolve_model_dir(path)
        class_names_file = self.directory / exporter.CLASS_NAMES_FILE
        if not class_names_file.is_file():
            raise ModelPathError(f"{self.directory}: no {exporter.CLASS_NAMES_FILE}; not a model this pipeline pushed")
        self.class_names = exporter.read_class_names(str(self.directory))
        self.runtime = runtime
        self._predict = self._tflite(runtime) if runtime in exporter.TFLITE_FILES else self._saved_model()

    def _saved_model(self):
        tf = self._tf
        try:
            loaded = tf.saved_model.load(str(self.directory))
        except (OSError, ValueError, tf.errors.OpError) as e:
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelPathError(
                f"{self.directory / 'saved_model.pb'}: not a readable SavedModel ({first_line})") from None
        serve = loaded.signatures[exporter.SERVING_JPEG]
        self._loaded = loaded  # the signature lives as long as the object it came from
        return lambda batch: serve(image_bytes=tf.constant(list(batch)))["probabilities"].numpy()

    def _tflite(self, runtime: str):
        try:
            return exporter.load_tflite(str(self.directory), exporter.TFLITE_FILES[runtime])
        except ValueError as e:
            raise ModelPathError(str(e)) from None

    def probabilities(self, images: Sequence[bytes]) -> np.ndarray:
        """[len(images), num_classes] class probabilities of encoded images."""
        batches = [self._predict(images[i:i + PREDICT_BATCH]) for i in range(0, len(images), PREDICT_BATCH)]
        return np.concatenate(batches) if batches else np.zeros((0, len(self.class_names)))

    def top_classes(self, image: bytes, k: int = 3) -> list[tuple[str, float]]:
        """The k most probable classes; InputError for bytes the model cannot decode."""
        try:
            probabilities = self.probabilities([image])[0]
        except self._tf.errors.InvalidArgumentError:
            raise InputError("not an image the model can decode (JPEG, PNG, GIF or BMP)") from None
        return [(self.class_names[i], float(probabilities[i])) for i in np.argsort(-probabilities)[:k]]


def score_folder(model: PushedModel, data_dir: str | os.PathLike) -> dict:
    """Accuracy, macro F1 and per-class precision (None for a class never predicted), recall and support
    of `model` on DIR/<class>/<image>.

    Files that ingestion would reject are not scored but listed, with their reasons.
    """
    from sklearn import metrics
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise layout.IngestionError(f"{data_dir}: not a directory")
    if not any(p.is_dir() for p in data_dir.iterdir()):
        raise layout.IngestionError(f"{data_dir}: no class subfolders")
    candidates, rejected = layout.scan_class_folders(data_dir, data_dir, model.class_names, split="eval")
    images, labels = [], []
    for candidate in candidates:
        reason, data = image_files.read_image_file(candidate.path)
        if reason:
            rejected.append((candidate.relative_path, reason))
        else:
            images.append(data)
            labels.append(model.class_names.index(candidate.class_name))
    if not images:
        raise layout.IngestionError(f"{data_dir}: no image could be read")

    predicted = model.probabilities(images).argmax(axis=1)
    class_ids = list(range(len(model.class_names)))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predicted, labels=class_ids, zero_division=0)
    return {
        "model": str(model.directory),
        "runtime": model.runtime,
        "data": str(data_dir),
        "n": len(labels),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "macro_f1": float(np.mean([f1[i] for i in class_ids if support[i] > 0])),
        # A class never predicted has no precision: None (JSON null), as the report's "-" and TFMA's absent value.
        "per_class": {
            name: {"precision": float(precision[i]) if (predicted == i).any() else None, "recall": float(recall[i]),
                   "support": int(support[i])}
            for i, name in enumerate(model.class_names)},
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=class_ids).tolist(),
        "rejected": [{"path": path, "reason": reason} for path, reason in sorted(rejected)],
    }
