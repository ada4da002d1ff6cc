"""The package's layers: every import inside mxgan points downward (cli > flags > bench > train > quality >
inference > checkpoints > model > data > runtime > config, constants, errors; entry and __main__ above all)."""

import ast

import pytest
from helpers import REPO

RANK = {"constants": 0, "errors": 0, "config": 0, "runtime": 1, "data": 2, "model": 3, "checkpoints": 4,
        "inference": 5, "quality": 6, "train": 7, "bench": 8, "flags": 9, "cli": 10,
        "entry": 11, "__main__": 12}
MODULES = sorted((REPO / "mxgan").rglob("*.py"))


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] != "__init__" else None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_downward(path):
    me = _layer(".".join(path.relative_to(REPO).with_suffix("").parts))
    if me is None:
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mxgan."):
            other = _layer(node.module)
            assert RANK[other] <= RANK[me], f"{path.name} ({me}) imports {node.module} ({other}), a higher layer"
