"""Reading a config file: the one place that parses YAML, TOML and JSON settings for any command."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from distillab.errors import ConfigError


def read_mapping(path: Path) -> dict[str, Any]:
    """The mapping in a .yaml/.yml/.toml/.json config file; ``ConfigError`` naming the file otherwise."""
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"--config {path}: expected a .yaml, .yml, .toml or .json file")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot be parsed ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: the top level must be a mapping of option names to values")
    return data
