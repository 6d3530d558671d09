"""Model code run inside TFX components: preprocessing, model, training and export.

Importing this package chooses the Keras flavour: TensorFlow 2.16 defaults to Keras 3, but TFT/TFMA
1.16 and the SavedModel export need tf_keras. It is the one place, and it runs before any program's
first line wherever the project is installed: image_classification_pipeline.pth, in site-packages,
imports it when Python starts. That covers entry points that are not the project's, such as TFX's
container entrypoint in the Kubeflow image, which resolves `tf.keras` before it loads our executor.
Every package of the project also imports it first, for a copy run from its sources. TensorFlow
decides on the first use of `tf.keras`: where that came first, as Keras 3, importing this package is
an error, not a silent mix of the two.

It also has TensorFlow keep CPU tensors in its own pool (its BFC allocator, TF_CPU_ALLOCATOR_USE_BFC,
unless the environment chose), read when TensorFlow makes its first CPU device. Through glibc's
malloc, the decoded images that tf.data's threads allocate and free stay resident in many
per-thread heaps, so the Trainer grew with the data (3.2 times its memory at 16 times the images);
from the pool, freed tensors are reused (1.2 times), and the default model's large activations are
no longer mapped and unmapped at every step (docs/benchmarks.md, "Scale"). On CPUs where TensorFlow
turns oneDNN on by default (AVX512_VNNI, AVX512_BF16, AMX), oneDNN's allocator pools them either way.
"""
import os
import sys
from pathlib import Path

LEGACY_KERAS = "TF_USE_LEGACY_KERAS"
# The name setup.py gives the project's distribution (its version, its files, how it was installed).
DISTRIBUTION = "image-classification-pipeline"


def distribution():
    """The project's installed distribution: the one with a RECORD of its files, not the .egg-info a
    build leaves in a checkout (which a process started there finds first)."""
    from importlib import metadata
    found = list(metadata.distributions(name=DISTRIBUTION))
    if not found:
        raise metadata.PackageNotFoundError(DISTRIBUTION)
    return next((d for d in found if d.read_text("RECORD")), found[0])


def keras_in_use():
    """'tf_keras' or 'keras_3' once TensorFlow has resolved `tf.keras`; None before."""
    keras = vars(sys.modules["tensorflow"]).get("keras") if "tensorflow" in sys.modules else None
    if keras is None:
        return None
    state = vars(keras)
    if "_tfll_initialized" in state:  # TensorFlow's KerasLazyLoader, read without waking it
        return state.get("_tfll_keras_version")
    # By its file: TFX's imports leave a copy named tensorflow.keras, loaded from either package.
    return "tf_keras" if "tf_keras" in Path(getattr(keras, "__file__", "") or "").parts else "keras_3"


def _choose_tf_keras() -> None:
    value = os.environ.setdefault(LEGACY_KERAS, "1")
    if value not in ("1", "true", "True"):
        raise ImportError(f"{LEGACY_KERAS}={value}: this project needs tf_keras (TFT and TFMA 1.16 do); "
                          "unset it or set it to 1")
    if keras_in_use() not in (None, "tf_keras"):
        raise ImportError(f"tf.keras was used as Keras 3 before this project was imported: set {LEGACY_KERAS}=1 "
                          "before Python starts, or import the project before using tf.keras")


CPU_ALLOCATOR = "TF_CPU_ALLOCATOR_USE_BFC"


def _pool_cpu_tensors() -> None:
    # In the environment, so that the processes this one starts (Beam's workers, training workers) pool theirs too.
    os.environ.setdefault(CPU_ALLOCATOR, "true")


_choose_tf_keras()
_pool_cpu_tensors()
