"""What the project sets for the whole process, in one place (modules/__init__.py), run when Python
starts wherever the project is installed (image_classification_pipeline.pth) and by every project
package.

The Keras flavour: TensorFlow imported first, or TFX's own entrypoint, still gives tf_keras
everywhere, and a program that already used tf.keras as Keras 3, or that asks for Keras 3, gets one
clear error instead of a mixed model. The CPU tensors' pool: TensorFlow's BFC allocator, unless the
environment chose."""
import os
import subprocess
import sys

import pytest

# What a copy of the project run from its sources sees: no start-up file has run.
WITHOUT_STARTUP_FILE = "import os, sys; sys.modules.pop('modules'); os.environ.pop('TF_USE_LEGACY_KERAS')\n"


def python(code: str, **environment) -> subprocess.CompletedProcess:
    # Not inherited from this process, which imported the project and so set both.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "TF_CPU_ALLOCATOR_USE_BFC")}
    env.update(environment, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_python_starts_with_tf_keras_chosen():
    result = python("import os, sys; print(os.environ['TF_USE_LEGACY_KERAS'], 'modules' in sys.modules)")
    assert result.stdout.split() == ["1", "True"], result.stderr[-2000:]


def test_tfx_container_entrypoint_then_the_project_gets_tf_keras():
    # The entrypoint every Kubeflow task runs resolves tf.keras before it loads our executor.
    result = python("import tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor\n"
                    "import tensorflow as tf, tf_keras, modules.model\n"
                    "model = modules.model.build('arch_1', 3)\n"
                    "print(modules.keras_in_use(), isinstance(model, tf_keras.Model))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["tf_keras", "True"]


@pytest.mark.parametrize("package", ["modules", "pipeline", "components", "client", "cli", "kubeflow"])
def test_every_package_chooses_it_first(package):
    result = python(WITHOUT_STARTUP_FILE + f"import {package}, tensorflow as tf\n"
                    "print(os.environ['TF_USE_LEGACY_KERAS'], tf.keras.__name__)")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["1", "tf_keras.api._v2.keras"]


def test_keras_3_already_in_use_is_one_clear_error():
    result = python(WITHOUT_STARTUP_FILE + "import tensorflow as tf\ntf.keras.layers.Dense(1)\nimport modules")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: tf.keras was used as Keras 3 before this project was imported: set TF_USE_LEGACY_KERAS=1 "
        "before Python starts, or import the project before using tf.keras")


def test_asking_for_keras_3_is_one_clear_error():
    result = python("import modules", TF_USE_LEGACY_KERAS="0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ImportError: TF_USE_LEGACY_KERAS=0: this project needs tf_keras (TFT and TFMA 1.16 do); "
        "unset it or set it to 1")


# TensorFlow keeps allocation statistics only for its pooling (BFC) allocator: for glibc's malloc,
# asking for them is a ValueError.
CPU_POOL = """
import os, tensorflow as tf
tf.random.uniform([256, 256])
try:
    pooled = tf.config.experimental.get_memory_info("CPU:0")["peak"] > 0
except ValueError:
    pooled = False
print(os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), pooled)
"""
# On CPUs with AVX512_VNNI, AVX512_BF16 or AMX, TensorFlow turns oneDNN on by default, and oneDNN's CPU
# allocator pools (and keeps statistics) whatever TF_CPU_ALLOCATOR_USE_BFC says; with it off, as on
# CPUs without those, the variable alone decides, which is what these tests look at.
ONEDNN_OFF = {"TF_ENABLE_ONEDNN_OPTS": "0"}


def test_cpu_tensors_come_from_tensorflows_pool():
    result = python(CPU_POOL, **ONEDNN_OFF)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["true", "True"]


def test_a_choice_made_in_the_environment_is_kept():
    result = python(CPU_POOL, TF_CPU_ALLOCATOR_USE_BFC="false", **ONEDNN_OFF)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["false", "False"]


def test_without_the_startup_file_importing_the_package_first_pools_them():
    result = python("import os, sys; sys.modules.pop('modules'); os.environ.pop('TF_CPU_ALLOCATOR_USE_BFC')\n"
                    "import modules\n" + CPU_POOL, **ONEDNN_OFF)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["true", "True"]
