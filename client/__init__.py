"""The model client: a pushed model found, loaded, asked for predictions and scored on a folder."""
import modules  # noqa: F401  # first: chooses the Keras flavour (modules/__init__.py)
