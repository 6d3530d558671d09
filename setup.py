"""The project as one installable distribution: the pipeline code that Beam workers, the Kubeflow image
and the CLI import by module path (`modules.trainer.run_fn`), the `image-pipeline` command, and the
files they read at run time (the schema, the bundled sample) as package data."""
import os

import setuptools
from setuptools.command.build_py import build_py

# Run by Python at start-up wherever the distribution is installed (site-packages' .pth files), before
# any program imports TensorFlow: it imports `modules`, whose __init__ chooses the Keras flavour.
STARTUP_FILE = "image_classification_pipeline.pth"


class BuildPyWithStartupFile(build_py):
    """build_py that also puts STARTUP_FILE at the top of the wheel (editable installs too)."""

    def run(self):
        super().run()
        self.copy_file(STARTUP_FILE, os.path.join(self.build_lib, STARTUP_FILE))

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, STARTUP_FILE)]


PACKAGES = ("pipeline", "modules", "components", "kubeflow", "cli", "client", "schema")

setuptools.setup(
    name="image-classification-pipeline",
    version="0.1.0",
    description="TFX pipeline: folders of labelled images to a validated, pushed image classifier",
    python_requires=">=3.9,<3.11",
    packages=setuptools.find_packages(include=[name + tail for name in PACKAGES for tail in ("", ".*")]),
    py_modules=["local_runner"],
    package_data={"schema": ["*.pbtxt"], "modules": ["decision_biases/*.json"],
                  "pipeline": ["sample/*", "sample/*/*/*"]},
    # Versions are pinned in requirements.lock and installed from it (scripts/setup_env.sh,
    # kubeflow/Dockerfile); they are not repeated here so that one file decides every version.
    install_requires=[],
    entry_points={"console_scripts": ["image-pipeline=cli.main:main"]},
    cmdclass={"build_py": BuildPyWithStartupFile},
)
