"""The command line: flags and environment read once into settings, the commands, one-line errors
(`main`), and the local runner (`local`)."""
import modules  # noqa: F401  # first: chooses the Keras flavour (modules/__init__.py)
