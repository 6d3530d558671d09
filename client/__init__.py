"""The model client: a pushed model found, loaded, asked for predictions and scored on a folder."""
