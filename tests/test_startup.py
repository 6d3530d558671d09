"""What every process of the project sets when it starts (modules/__init__.py).

The Keras flavour is chosen in one place (modules/__init__.py), run when Python starts wherever the
project is installed (image_classification_pipeline.pth) and by every project package: TensorFlow
imported first, or TFX's own entrypoint, still gives tf_keras everywhere, and a program that already
used tf.keras as Keras 3, or that asks for Keras 3, gets one clear error instead of a mixed model.

glibc's malloc keeps two arenas, unless the environment chose another number: the started process
and the processes it starts."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What a copy of the project run from its sources sees: no start-up file has run.
WITHOUT_STARTUP_FILE = "import os, sys; sys.modules.pop('modules'); os.environ.pop('TF_USE_LEGACY_KERAS')\n"


def python(code: str, **environment) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "MALLOC_ARENA_MAX")}
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


# Eight threads each allocate (blocks under glibc's mmap threshold, so from an arena) while the
# others hold theirs; glibc gives a thread that finds every arena busy a new one, up to its limit.
# malloc_info lists one <heap> per arena.
COUNT_ARENAS = """
import ctypes, os, tempfile, threading
libc = ctypes.CDLL(None)
start = threading.Barrier(8)
def allocate():
    start.wait()
    held = [bytearray(4000) for _ in range(2000)]
    start.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
path = tempfile.mktemp()
libc.fopen.restype = ctypes.c_void_p
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream)); libc.fclose(ctypes.c_void_p(stream))
print(os.environ.get("MALLOC_ARENA_MAX"), open(path).read().count("<heap nr="))
"""


def test_malloc_keeps_two_arenas():
    result = python(COUNT_ARENAS)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["2", "2"]


def test_a_number_chosen_in_the_environment_is_kept():
    result = python(COUNT_ARENAS, MALLOC_ARENA_MAX="6")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "6" and 2 < int(result.stdout.split()[1]) <= 6


def test_without_the_startup_file_importing_the_package_limits_them():
    # python -S: no site-packages, so no start-up file; the project from its sources.
    def count(code):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                                env=dict(env, PYTHONPATH=str(Path(__file__).parents[1])))
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.split()
    assert count(COUNT_ARENAS)[0] == "None" and int(count(COUNT_ARENAS)[1]) > 2  # glibc's own default
    assert count("import modules\n" + COUNT_ARENAS) == ["2", "2"]
