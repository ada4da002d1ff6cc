"""The ``mxgan`` subcommands: one module each, holding its flags, their checks and its ``run`` function, thin
over the library (which takes typed arguments). :data:`COMMANDS` is the one table of them."""

from types import ModuleType

from mxgan.commands import bench, classifier, doctor, download, evaluate, export, launch, pack, plot, sample, train

COMMANDS: dict[str, ModuleType] = {
    "train": train, "sample": sample, "export": export, "bench": bench, "eval": evaluate, "classifier": classifier,
    "plot": plot, "pack": pack, "launch": launch, "doctor": doctor, "download": download,
}
