"""The Kubeflow runner: the pipeline compiled for Kubeflow Pipelines, and the image its steps run in."""
import modules  # noqa: F401  # first: chooses the Keras flavour (modules/__init__.py)
