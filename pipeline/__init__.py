"""The pipeline definition (`create_pipeline`, the EvalConfig) and its configuration constants."""
import modules  # noqa: F401  # first: chooses the Keras flavour (modules/__init__.py)
