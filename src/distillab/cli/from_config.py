"""Commands whose options come from a config dataclass, and `--config FILE` for them.

    @from_config(TrainConfig, required=("student", "data", "out"))
    def train(config: TrainConfig) -> None:
        run_train(config)

Each field of the dataclass becomes one option: `--kebab-case` of its name (or the flag given in
``flags``), typed by its annotation, with the field's default and help (`distillab.fields.documented`).
A bool that defaults to False is a switch (`--resume`); any other bool has its negation
(`--progress/--no-progress`); a ``tuple[str, ...]`` is a repeatable option. The command is called with the
dataclass built from the options, so its ``__post_init__`` validates them, all problems at once. The
command's other parameters (arguments, options of the CLI alone) stay as declared, where declared.

`--config FILE` (YAML, TOML or JSON) holds any option of the command under its flag name, with dashes or
underscores (``max-steps: 3``). Flags given on the command line win over the file, the file wins over the
defaults; an unknown name or a value of the wrong type is a `ConfigError` naming the file.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import typer

from distillab.config_file import read_mapping
from distillab.errors import ConfigError

CONFIG_PARAM = "config_file"
CONFIG_HELP = "YAML, TOML or JSON file with any of these options (flag names as keys); flags given here win."

Command = Callable[..., None]


def from_config(
    cls: type,
    *,
    required: Collection[str] = (),
    flags: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
) -> Callable[[Command], Command]:
    """Decorate a command taking a parameter annotated ``cls``: its fields become the command's options.

    ``required``: fields the command line (or the file) must give, listed first. ``flags``: a field's
    flag where it is not `--kebab-case` of its name. ``skip``: fields the command does not offer (they
    keep their defaults).
    """
    hints = typing.get_type_hints(cls)
    chosen = [f for f in dataclasses.fields(cls) if f.name not in skip]
    chosen.sort(key=lambda f: f.name not in required)  # stable: the rest stay in field order

    def decorate(func: Command) -> Command:
        signature = inspect.signature(func, eval_str=True)
        own = signature.parameters
        (config_name,) = [p.name for p in own.values() if p.annotation is cls]
        field_of: dict[str, str] = {}
        params = [_config_file_param()]
        for param in own.values():
            if param.name != config_name:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            for field in chosen:
                option = _option(
                    field, hints[field.name], (flags or {}).get(field.name), field.name in required
                )
                field_of[option.name] = field.name
                params.append(option)
        tuples = {f.name for f in chosen if typing.get_origin(hints[f.name]) is tuple}

        def command(**values: Any) -> None:
            del values[CONFIG_PARAM]  # read by its callback, into the defaults of the other options
            settings = {field: values.pop(name) for name, field in field_of.items()}
            for name in tuples & settings.keys():
                settings[name] = tuple(settings[name])
            func(**values, **{config_name: cls(**settings)})

        command.__name__, command.__qualname__ = func.__name__, func.__qualname__
        command.__module__, command.__doc__ = func.__module__, func.__doc__
        command.__dict__["__signature__"] = signature.replace(parameters=params)  # what typer reads
        return command

    return decorate


def _option(
    field: dataclasses.Field[Any], annotation: Any, flag: str | None, required: bool
) -> inspect.Parameter:
    """The typer option of one field: flag, type, default and help from the field alone."""
    flag = flag or "--" + field.name.replace("_", "-")
    name = flag.lstrip("-").replace("-", "_")
    if typing.get_origin(annotation) is tuple:
        annotation = types.GenericAlias(list, typing.get_args(annotation)[:1])
    if annotation in (bool, bool | None) and field.default is not False:
        flag = f"{flag}/--no-{flag.removeprefix('--')}"
    help = field.metadata["help"]
    if required:
        option = typer.Option(..., flag, help=help)
    else:
        default = list(field.default) if isinstance(field.default, tuple) else field.default
        option = typer.Option(default, flag, help=help, show_default=True)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)


def _config_file_param() -> inspect.Parameter:
    option = typer.Option(None, "--config", help=CONFIG_HELP, is_eager=True, callback=_read_config_file)
    return inspect.Parameter(
        CONFIG_PARAM, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=Path | None
    )


def _read_config_file(ctx: typer.Context, path: Path | None) -> Path | None:
    """Put the file's values in as the defaults of the options it names, checked and converted now so
    that a bad one is reported against the file (``--config`` is eager: it runs before the others)."""
    if path is None or ctx.resilient_parsing:
        return path
    params = {p.name: p for p in ctx.command.params if p.name and p.name != CONFIG_PARAM}
    defaults: dict[str, Any] = {}
    problems = []
    for key, value in read_mapping(path).items():
        param = params.get(str(key).replace("-", "_"))
        if param is None:
            known = ", ".join(sorted(name.replace("_", "-") for name in params))
            problems.append(f"{path}: unknown option {key!r} (known: {known})")
        elif value is not None:
            if param.multiple and not isinstance(value, list):
                value = [value]
            try:
                defaults[param.name] = param.process_value(ctx, value)
            except typer.BadParameter as exc:
                problems.append(f"{path}: {key}: {exc.message}")
    if problems:
        raise ConfigError(problems)
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return path
