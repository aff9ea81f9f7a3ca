"""Typed configuration: dataclasses loaded strictly from TOML/YAML with CLI overrides.

Each component owns its own nested ``@dataclass Config`` (with a docstring per field and a
``__post_init__`` that raises ``ValueError`` naming the bad value); an entry point composes
them into one top-level dataclass and calls :func:`load_config`. Unknown keys, in the file
or on the command line, are errors with a "did you mean" suggestion — a misspelt key must
never be silently ignored.

Overrides use dotted paths: ``--model.hidden 256 --train.epochs=5 --task solubility``;
dashes in keys read as underscores (``--min-score 400``) and a bare ``--flag`` means true.
A value is read as the field's annotation asks: for a ``str`` field the text is taken as
given (``--out 0123`` is the path ``"0123"``, never the number 83; only an optional one
reads ``null`` as None), for other types it is parsed as YAML (``[15, 10]``, ``true``,
``1e-3``, ``null``) and then checked; list items typed ``str`` keep their text too.

A field that is renamed stays loadable under its old key: the dataclass lists it in
``renamed_keys`` (:data:`RENAMED_KEYS`), and :func:`config_digest` hashes the field under
the old key, so a rename changes no run's identity.

How every entry point reads its command line into these dataclasses, and answers
``--help`` from them, is :mod:`genen_core.command_line`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import tomllib
import types
import typing
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override that does not fit the config dataclasses."""


RENAMED_KEYS = "renamed_keys"
"""Class attribute of a config dataclass: ``ClassVar[dict[str, str]]``, old key -> field.

An old key still loads, with a :class:`FutureWarning` naming the new one, rather than
failing: results directories and sweeps written before the rename hold it in files that
are read back (``config.yaml``, a sweep trial's ``trial.json``), and a user's own config
files keep working until they are edited. Giving both keys is an error."""


def _renamed(cls: Any) -> dict[str, str]:
    return getattr(cls, RENAMED_KEYS, {})


def _suggest(key: str, options: list[str]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid keys: {', '.join(sorted(options))})"


def is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert ``value`` to annotation ``tp`` (basic types, Optional, list, tuple, Literal)."""
    if isinstance(value, CliText):
        value = value.typed(tp)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        item = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, item, f"{where}.{k}") for k, v in value.items()}
    if is_dataclass_type(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a section (mapping), got {value!r}")
        return _from_defaults(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # YAML 1.1 (PyYAML) reads ``1e-3`` (no dot) as a string; Python reads it.
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class CliText:
    """A command-line value, kept as text until the field it sets says how to read it."""

    text: str

    def typed(self, tp: Any) -> Any:
        """The value for annotation ``tp``: the text itself where ``tp`` takes a string."""
        union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        members = [a for a in typing.get_args(tp) if a is not type(None)] if union else [tp]
        if all(m is str or typing.get_origin(m) is typing.Literal for m in members):
            # Verbatim: a path or name is never re-read as a number, bool or list. A
            # YAML-quoted string ('"0123"', as json.dumps writes one) loses its quotes.
            optional = union and len(members) < len(typing.get_args(tp))
            if optional and self.text in ("null", "~"):
                return None
            return _unquoted(self.text)
        try:
            node = yaml.compose(self.text)
        except yaml.YAMLError:
            return self.text
        return _node_value(node, tp) if node is not None else None


def _unquoted(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        if isinstance(value, str):
            return value
    return text


def _node_value(node: yaml.Node, tp: Any) -> Any:
    """A YAML node read as ``tp``: strings from the node's text, the rest as YAML."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and _construct(node) is None:
            return None
        shaped = [a for a in args if a is not type(None) and _takes(a, node)]
        return _node_value(node, shaped[0]) if shaped else _construct(node)
    if isinstance(node, yaml.ScalarNode) and (tp is str or origin is typing.Literal):
        if tp is str or node.value in args:
            return node.value
    if isinstance(node, yaml.SequenceNode) and origin in (list, tuple):
        item = args[0] if args else Any
        return [_node_value(child, item) for child in node.value]
    return _construct(node)


def _takes(tp: Any, node: yaml.Node) -> bool:
    """Whether a union member ``tp`` is the one meant for this node's shape."""
    if isinstance(node, yaml.SequenceNode):
        return typing.get_origin(tp) in (list, tuple)
    if isinstance(node, yaml.MappingNode):
        return typing.get_origin(tp) is dict or is_dataclass_type(tp)
    return tp is str


def _construct(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def to_dict(cfg: Any) -> dict:
    """The resolved config as plain data (for writing next to outputs)."""
    return dataclasses.asdict(cfg)


def non_default(cfg: Any) -> dict:
    """The fields of dataclass ``cfg`` whose values differ from its class's defaults, nested
    sections recursed into (a section left at its defaults is absent)."""
    return _diff(to_dict(cfg), to_dict(type(cfg)()))


def _diff(value: dict, default: dict) -> dict:
    out = {}
    for k, v in value.items():
        d = default.get(k)
        if isinstance(v, dict) and isinstance(d, dict):
            if sub := _diff(v, d):
                out[k] = sub
        elif v != d or k not in default:
            out[k] = v
    return out


def config_digest(cfg: Any, exclude: Sequence[tuple[str, ...]] = (), version: str = "") -> str:
    """SHA-256 (hex) of what ``cfg`` sets away from its defaults, less the ``exclude`` paths.

    Hashing only the values that differ from the defaults means that adding a field with
    a default that keeps today's behaviour leaves every existing digest as it was; a
    default that changes what a run computes must bump ``version`` instead (the owner of
    the config keeps it).
    """
    d = non_default(cfg)
    for path in exclude:
        node = d
        for part in path[:-1]:
            node = node.get(part, {})
        node.pop(path[-1], None)
    d = _hashed_names(cfg, d)
    blob = json.dumps({"version": version, "config": d}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _hashed_names(cfg: Any, d: dict) -> dict:
    """``d`` (part of ``non_default(cfg)``) with every renamed field under its old key: a
    rename must not make a finished run or sweep trial look like a new config."""
    old_name = {new: old for old, new in _renamed(cfg).items()}
    out = {}
    for key, value in d.items():
        section = getattr(cfg, key, None)
        if isinstance(value, dict) and dataclasses.is_dataclass(section):
            value = _hashed_names(section, value)
        out[old_name.get(key, key)] = value
    return out


def read_file(path: str | Path) -> dict:
    """Read a TOML or YAML config file into a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot parse: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def parse_overrides(args: list[str]) -> dict:
    """``['--a.b', '3', '--c=x']`` -> ``{'a': {'b': CliText('3')}, 'c': CliText('x')}``."""
    out: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"expected --key value, got {arg!r}")
        key = arg[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
            i += 1
        elif i + 1 >= len(args) or (args[i + 1].startswith("--") and len(args[i + 1]) > 2):
            # A bare flag (--force) means true; the field's type check still applies.
            raw = "true"
            i += 1
        else:
            raw = args[i + 1]
            i += 2
        key = key.replace("-", "_")
        value = CliText(raw)  # typed by the field it sets (see _coerce)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override --{key} conflicts with an earlier one")
        node[parts[-1]] = value
    return out


def merge_mappings(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra``, nested sections merged key by key (neither changes)."""
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_mappings(out[k], v)
        else:
            out[k] = v
    return out


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Defaults of ``cls``, then the file at ``path``, then ``--key value`` overrides."""
    data: dict = {}
    if path is not None:
        data = read_file(path)
    data = merge_mappings(data, parse_overrides(list(overrides)))
    # Fill unspecified nested sections from defaults so that partial sections work.
    return from_mapping(cls, data)


def _new_names(cls: type, data: dict, where: str) -> dict:
    """``data`` with each old key of ``cls``'s :data:`RENAMED_KEYS` under its new name."""
    for old, new in _renamed(cls).items():
        if old not in data:
            continue
        old_path, new_path = (f"{where}.{k}" if where else k for k in (old, new))
        if new in data:
            raise ConfigError(
                f"{old_path!r} is the old name of {new_path!r}; give only {new_path!r}"
            )
        warnings.warn(
            f"config key {old_path!r} is now {new_path!r}; the old name still loads, rename it",
            FutureWarning,
            stacklevel=2,
        )
        data = {new if k == old else k: v for k, v in data.items()}
    return data


def _from_defaults(cls: type[T], data: dict, where: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    merged = {}
    data = _new_names(cls, data, where)
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key not in fields:
            raise ConfigError(f"unknown config key {path!r}{_suggest(key, list(fields))}")
        tp = hints[key]
        if is_dataclass_type(tp) and isinstance(value, CliText):
            value = value.typed(tp)  # a whole section given as YAML on the command line
        if is_dataclass_type(tp) and isinstance(value, dict):
            merged[key] = _from_defaults(tp, value, path)
        else:
            merged[key] = _coerce(value, tp, path)
    try:
        return cls(**merged)
    except TypeError as e:
        raise ConfigError(f"{where or cls.__name__}: {e}") from None


def from_mapping(cls: type[T], data: dict, where: str = "") -> T:
    """``cls`` from defaults and a nested mapping (e.g. a section of a larger file), strictly.

    Raises:
        ConfigError: An unknown key, a value of the wrong type, or a value a section's
            ``__post_init__`` rejects.
    """
    try:
        return _from_defaults(cls, data, where)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(f"{where + ': ' if where else ''}{e}") from None
