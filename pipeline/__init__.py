"""The pipeline definition (`create_pipeline`, the EvalConfig) and its configuration constants."""
import os

# TF 2.16 defaults to Keras 3, but TFT/TFMA 1.16 and our SavedModel export need tf_keras.
# This must be set before TensorFlow is first imported, so every entry point imports us first.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
