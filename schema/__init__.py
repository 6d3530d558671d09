"""The curated schema of the raw examples (schema.pbtxt), read by ImportSchemaGen; package data, found
with importlib.resources wherever the project is installed (pipeline/configs.py, SCHEMA_DIR)."""
