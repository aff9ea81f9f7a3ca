"""The command line of every entry point, and its ``--help``, from the config dataclasses.

Every entry point reads ``[WORD] [--config FILE] [--preset NAME] [--key value ...]`` with
:func:`parse_command_line` (a leading word, such as ``genen-encode STORE``, taken first
with :func:`pop_positional`), and answers ``--help`` with :func:`help_text`: the
dataclasses, their defaults and the docstring under each field. The values themselves
are loaded strictly by :mod:`genen_core.config`.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from genen_core.config import ConfigError, is_dataclass_type, load_config, read_file
from genen_core.logs import setup_logging

T = TypeVar("T")


def pop_option(args: list[str], flag: str, value: str = "a value") -> str | None:
    """Take ``--flag VALUE`` (or ``--flag=VALUE``) out of ``args``, in place; ``value``
    says what VALUE is, for the error.

    Returns:
        The value, or None when ``args`` does not hold the flag.

    Raises:
        ConfigError: The flag ends the command line without a value.
    """
    for i, arg in enumerate(args):
        if arg == flag:
            if i + 1 >= len(args):
                raise ConfigError(f"{flag} needs {value}")
            value = args[i + 1]
            del args[i : i + 2]
            return value
        if arg.startswith(flag + "="):
            del args[i]
            return arg.split("=", 1)[1]
    return None


def pop_positional(args: list[str], metavar: str) -> str:
    """Take the leading bare word (``genen-encode STORE``) out of ``args``, in place.

    Raises:
        ConfigError: ``args`` does not start with one (the message names ``metavar``).
    """
    if not args or args[0].startswith("-"):
        raise ConfigError(f"give {metavar} first, then --key value options (see --help)")
    return args.pop(0)


def parse_command_line(
    cls: type[T],
    argv: Sequence[str],
    presets: Mapping[str, Mapping[str, Any]] | None = None,
    preset: str | None = None,
    below: Callable[[dict, list[str]], list[str]] | None = None,
) -> T:
    """``[--config FILE] [--preset NAME] [--key value ...]`` -> ``cls``, strictly.

    Layers, lowest first: the defaults of ``cls``; ``below``'s overrides; the file; the
    preset; the command line. A leading bare word is the entry point's to take first
    (:func:`pop_positional`), as are options that are not config keys (:func:`pop_option`).

    Args:
        cls: The entry point's top-level config dataclass.
        argv: The command line (without ``--help``, which the entry point answers).
        presets: Named values (nested mappings of keys, as in a config file) that
            ``--preset NAME`` applies; None: the entry point has no presets.
        preset: The preset applied when ``--preset`` is not given.
        below: ``(file mapping, the preset's and the command line's overrides)`` ->
            ``--key value`` overrides for keys neither sets (the demo run's defaults).

    Raises:
        ConfigError: A bad option, key or value, including one that a section's
            ``__post_init__`` rejects.
    """
    args = list(argv)
    path = pop_option(args, "--config", "a file path")
    overrides: list[str] = []
    if presets is not None:
        name = pop_option(args, "--preset", "a preset name") or preset
        if name is not None and name not in presets:
            raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(presets)}")
        if name is not None:
            overrides = _as_overrides(presets[name])
    try:
        if below is not None:
            overrides = below(read_file(path) if path else {}, overrides + args) + overrides
        return load_config(cls, path, overrides + args)
    except ConfigError:
        raise
    except ValueError as e:  # a section's __post_init__ naming the bad value
        raise ConfigError(str(e)) from None


def begin_entry_point(
    argv: Sequence[str] | None, cls: type, usage: str, flat: tuple[str, ...] = ()
) -> list[str] | None:
    """What every entry point's ``main`` does first: set up logging and answer ``--help``.

    Returns:
        The arguments to parse (``argv``, else ``sys.argv[1:]``), or None when ``--help``
        was asked and printed (:func:`help_text` of ``cls``, ``usage`` and ``flat``): the
        entry point then returns 0.
    """
    setup_logging()
    args = list(sys.argv[1:] if argv is None else argv)
    if asks_for_help(args):
        print(help_text(cls, usage, flat))
        return None
    return args


def run_entry_point(
    name: str,
    cls: type[T],
    usage: str,
    argv: Sequence[str] | None,
    positional: tuple[str, ...],
    body: Callable[[T], str],
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """The whole ``main`` of an entry point ``NAME WORD... [--key value ...]``.

    Configures logging, answers ``--help`` (:func:`help_text` of ``cls`` and ``usage``),
    takes the leading words as ``--<key>`` for each key of ``positional``, parses the rest
    into ``cls`` and prints what ``body`` returns. A :class:`ConfigError` or one of
    ``errors`` becomes one line ``NAME: error: ...`` on stderr and exit code 2 (used by
    ``genen-predict``, ``genen-neighbors``, ``genen-enrichment`` and the report helpers).
    """
    args = begin_entry_point(argv, cls, usage)
    if args is None:
        return 0
    try:
        given = [x for key in positional for x in (f"--{key}", pop_positional(args, key.upper()))]
        print(body(parse_command_line(cls, [*given, *args])))
        return 0
    except (ConfigError, *errors) as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2


def _as_overrides(values: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``{"model": {"hidden": 64}}`` -> ``["--model.hidden", "64"]``."""
    out = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            out += _as_overrides(value, f"{prefix}{key}.")
        else:
            # json.dumps writes scalars and lists as the YAML the override parser reads back.
            out += [f"--{prefix}{key}", json.dumps(value)]
    return out


# --- --help from the config dataclasses -------------------------------------------------


def asks_for_help(argv: list[str]) -> bool:
    """Whether the command line asks for ``--help`` (``-h``) anywhere."""
    return "--help" in argv or "-h" in argv


def help_text(cls: type, usage: str, flat: tuple[str, ...] = ()) -> str:
    """``--help`` for an entry point configured by dataclass ``cls``.

    Args:
        cls: The top-level config dataclass; nested sections are listed with dotted keys.
        usage: The entry point's own usage text (its module docstring), printed first.
        flat: Sections whose keys the entry point also accepts without the section
            prefix (``genen-ingest --source-dir`` for ``--sources.source_dir``).

    Returns:
        The usage, then every option as ``--key TYPE (default: VALUE)`` with the field
        docstring below it.
    """
    lines = [
        textwrap.dedent(usage).strip(),
        "",
        "Options (--key value, --key=value; a bare --flag is true):",
    ]
    lines += _option_lines(cls, "", flat)
    return "\n".join(lines) + "\n"


def _option_lines(cls: type, prefix: str, flat: tuple[str, ...]) -> list[str]:
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    lines = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        tp = hints[f.name]
        if is_dataclass_type(tp):
            note = " (also without the prefix)" if f.name in flat else ""
            lines += ["", f"[{prefix}{f.name}] {docs.get(f.name, '')}{note}".rstrip()]
            lines += _option_lines(tp, f"{prefix}{f.name}.", ())
            continue
        lines.append(f"  --{prefix}{f.name} {_type_name(tp)}  (default: {_default(f)})")
        doc = " ".join(docs.get(f.name, "").split())
        lines += textwrap.wrap(doc, 88, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return lines


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it (``x: int = 1`` then ``\"\"\"...\"\"\"``)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # no source (e.g. defined in a REPL)
        return {}
    body = tree.body[0].body
    docs = {}
    for stmt, after in zip(body, body[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[stmt.target.id] = inspect.cleandoc(after.value.value)
    for base in cls.__mro__[1:]:  # inherited fields keep their own docs
        if dataclasses.is_dataclass(base):
            docs = {**field_docs(base), **docs}
    return docs


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None) if typing.get_origin(tp) is None else None
    return name or str(tp).replace("typing.", "")


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return repr(f.default_factory())
    return "required"
