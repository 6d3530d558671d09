"""Custom TFX components. The pipeline uses only standard components so far."""
