"""Model code run inside TFX components: preprocessing, model, training and export."""
import os

# See pipeline/__init__.py: Transform and Trainer must agree on the Keras flavour.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
