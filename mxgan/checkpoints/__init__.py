"""Checkpoint files: MXNet's .params format, four foreign layouts, run folders, export."""
