"""ImageExampleGen: folders of labelled images -> TFX's Examples artifact (pipeline/ingestion.py's Beam job)."""
