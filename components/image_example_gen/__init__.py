"""ImageExampleGen: folders of labelled images -> TFX's Examples artifact. The layout it reads
(layout.py), its Beam job (beam_job.py), what counts as an image (image_files.py), duplicates
(duplicates.py), what it writes beside the splits (manifest.py); `image-pipeline ingest` (ingestion.py)."""
