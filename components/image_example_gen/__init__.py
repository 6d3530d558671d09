"""ImageExampleGen: folders of labelled images -> TFX's Examples artifact, by the ingestion Beam job
(ingestion.py), which image_files.py and duplicates.py serve."""
