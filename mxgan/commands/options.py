"""Flags made from the declarations of :mod:`mxgan.config`, and the checks several commands share.

Every command declares its flags as the fields of config dataclasses (:func:`mxgan.config.declared`): its own in
its module, the library's in :mod:`mxgan.config`. :func:`add_options` makes their flags, :func:`from_flags` the
config the flags give, checked by the same declarations. A flag's argparse default is None, meaning "not given":
the config's own default (or the recipe's) then applies, and ``--resume`` knows what was given. The help shows the
declared default.
"""

from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any, TypeVar

from mxgan.config import Option, check_options, options
from mxgan.errors import MxganError


def _add_option(parser: argparse.ArgumentParser, name: str, option: Option, kind: Any) -> None:
    """``option``'s flag, for a field ``name`` of type ``kind``."""
    help_text = option.help + _default_note(option)
    if kind is bool:
        if option.spelling:  # a switch that turns a default-on option off
            parser.add_argument(option.spelling, dest=name, action="store_const", const=False, default=None,
                                help=help_text)
        elif option.default:
            parser.add_argument(option.flag(name), dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=help_text)
        else:
            parser.add_argument(option.flag(name), dest=name, action="store_const", const=True, default=None,
                                help=help_text)
        return
    many = typing.get_origin(kind) is list
    metavar = option.metavar or (option.choices and "{" + ",".join(map(str, option.choices)) + "}")
    takes: dict[str, Any] = {"type": typing.get_args(kind)[0] if many else kind, "default": None, "metavar": metavar,
                             "help": help_text}
    if option.positional:  # a list takes the rest of the command line
        parser.add_argument(name, nargs=argparse.REMAINDER if many else None, **takes)
    else:
        parser.add_argument(option.flag(name), dest=name, nargs="+" if many else None, required=option.required,
                            **takes)


def _default_note(option: Option) -> str:
    if option.positional or isinstance(option.default, bool) or "default:" in option.help:
        return ""
    if option.recipe:
        return "" if "recipe" in option.help else " (default: the recipe's)"
    if option.default in ("", None):
        return ""
    shown = " ".join(map(str, option.default)) if isinstance(option.default, list) else option.default
    return f" (default: {shown})"


def add_options(parser: argparse.ArgumentParser, config: type) -> None:
    """The flags of a config dataclass's options."""
    hints = typing.get_type_hints(config)
    for name, option in options(config):
        _add_option(parser, name, option, hints[name])


def given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The options of ``config`` given on the command line (one :class:`MxganError` for an empty place, such as
    ``--out ''``, which would otherwise mean "the default" without a word)."""
    values = {name: getattr(args, name) for name, _ in options(config) if getattr(args, name, None) is not None}
    for name, option in options(config):
        if option.named and values.get(name) == "":
            raise MxganError(f"{option.flag(name)} is empty: name a folder or file, or leave {option.flag(name)} "
                             "out for its default")
    return values


Config = TypeVar("Config")


def from_flags(args: argparse.Namespace, config: type[Config]) -> Config:
    """The ``config`` the flags give (the declared defaults for those not given), each value within its declared
    choices and range: one :class:`MxganError` naming the flag."""
    made = config(**given(args, config))
    check_options(made)
    return made


def data_dir(value: str | None) -> Path:
    """``--data-dir``, else ``$MXGAN_DATA_DIR``, else ``./data``."""
    from mxgan.data.idx import default_data_dir

    return Path(value) if value else default_data_dir()
