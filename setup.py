"""Packages the pipeline code so that Beam workers, a Kubeflow image and the CLI import it
by module path (`modules.trainer.run_fn`), with no module-file upload at compile time."""
import setuptools

setuptools.setup(
    name="image-classification-pipeline",
    version="0.1.0",
    description="TFX pipeline: folders of labelled images to a validated, pushed image classifier",
    python_requires=">=3.9,<3.11",
    packages=setuptools.find_packages(include=["pipeline", "pipeline.*", "modules", "modules.*",
                                               "components", "components.*", "kubeflow", "kubeflow.*",
                                               "cli", "cli.*", "client", "client.*"]),
    py_modules=["local_runner"],
    # Dependencies are pinned in requirements.lock and installed from it (scripts/setup_env.sh);
    # they are not repeated here so that one file decides every version.
    install_requires=[],
    entry_points={"console_scripts": ["image-pipeline=cli.main:main"]},
)
