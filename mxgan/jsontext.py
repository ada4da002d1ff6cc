"""JSON read from files mxgan does not control (a run folder, a checkpoint's symbol): every way it can be wrong is
a ValueError, so that the reader says one line about the file instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def parse_json(text: str) -> Any:
    """``json.loads``, with a nesting too deep for Python's parser a ValueError too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def read_json(path: Path) -> Any:
    """The JSON file ``path`` (UTF-8); OSError where it cannot be read, ValueError where it is not JSON."""
    return parse_json(Path(path).read_bytes().decode("utf-8"))
