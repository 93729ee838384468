"""A config file's TOML, read with the configs it extends, and the error of a bad config."""

from __future__ import annotations

import tomllib
from pathlib import Path


class ConfigError(ValueError):
    """A config that cannot be read or does not validate; the message is one line."""


def read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A TOML config's tables, with the config it ``extends`` (recursively) underneath.

    Raises
    ------
    ConfigError
        Naming the file, if it cannot be read, is not TOML or extends itself.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read config: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"{path}: extends = {base!r}: expected the path of a config file")
    base_path = (path.parent / base).resolve()
    if base_path in (*chain, path.resolve()):
        raise ConfigError(f"{path}: extends = {base!r}: a config cannot extend itself")
    return merge_tables(read_toml(base_path, (*chain, path.resolve())), data)


def merge_tables(base: dict, top: dict) -> dict:
    """``base`` with ``top``'s keys on top, table by table: a table merges into the table
    below it, any other value (an array of tables too) replaces the one below whole."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        both_tables = isinstance(below, dict) and isinstance(value, dict)
        merged[key] = merge_tables(below, value) if both_tables else value
    return merged
