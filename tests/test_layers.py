"""The package's layers: every import inside mxgan points downward (cli > commands > bench > training > quality >
inference > checkpoints > model > data > runtime > config, constants, errors, jsontext; entry and __main__ above all),
and no module imports itself back round a circle, whether at its top or inside a function."""

import ast

import pytest
from helpers import REPO

RANK = {"constants": 0, "errors": 0, "jsontext": 0, "config": 0, "runtime": 1, "data": 2, "model": 3, "checkpoints": 4,
        "inference": 5, "quality": 6, "training": 7, "bench": 8, "commands": 9, "cli": 10, "entry": 11,
        "__main__": 12, "__init__": 13}
MODULES = sorted((REPO / "mxgan").rglob("*.py"))


def _name(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path) -> set[str]:
    """The mxgan modules ``path`` imports, anywhere in it (a package import counts as its ``__init__``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mxgan"):
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # from mxgan.commands import train
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("mxgan")}
    return found & set(GRAPH_NODES)


GRAPH_NODES = {_name(path): path for path in MODULES}
GRAPH = {name: _imports(path) - {name} for name, path in GRAPH_NODES.items()}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_downward(path):
    me = _name(path)
    if me == "mxgan":  # the public API re-exports from every layer, lazily
        return
    for other in GRAPH[me]:
        if other != "mxgan":
            assert RANK[_layer(other)] <= RANK[_layer(me)], f"{me} imports {other}, a higher layer"


def test_no_module_imports_itself_round_a_circle():
    state: dict[str, str] = {}

    def visit(name, trail):
        state[name] = "open"
        for other in sorted(GRAPH[name]):
            if state.get(other) == "open":
                circle = trail[trail.index(other):] + [other]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if other not in state:
                visit(other, [*trail, other])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
