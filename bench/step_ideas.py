"""Ideas for a faster training step, each measured side by side with the step without it:
``python bench/step_ideas.py``. Results: bench/README.md, "Making the step faster"."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.ideas import main  # noqa: E402

if __name__ == "__main__":
    main()
