"""Training images: IDX datasets and their download, picture folders, RecordIO, and batches."""
