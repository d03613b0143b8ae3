"""Any value in any setting of config.toml, or a setting left out: the settings load, or start-up stops with a
ConfigError that names the setting. Never another exception."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import TEST_SECRETS
from voice_app.config import DEFAULT_CONFIG_PATH, ConfigError, load_settings

REMOVED = object()

scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40),
    st.sampled_from(["", " ", "en", "de", "mon", "25:00", "08:00", "queue:", "number:+1", "sqlite://", "0", "-1"]),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=4), st.dictionaries(st.sampled_from(["a", "en", "+4930555010"]), scalars)
)


def shipped() -> dict[str, Any]:
    """The shipped settings, with paths made absolute, so that the file may be written anywhere."""
    data = tomllib.loads(DEFAULT_CONFIG_PATH.read_text())
    base = DEFAULT_CONFIG_PATH.resolve().parent
    for table in data.values():
        for key, value in table.items():
            if isinstance(value, str) and "/" in value and (base / value).exists():
                table[key] = str(base / value)
    return data


def setting_paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, value in table.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths += setting_paths(value, (*prefix, key))
    return paths


SHIPPED = shipped()
SETTINGS = [path for path in setting_paths(SHIPPED) if len(path) > 1]


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items()) + "}"


def toml_document(data: dict[str, Any], prefix: str = "") -> str:
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    text = "\n".join(lines) + "\n"
    for key, table in tables:
        name = f"{prefix}.{json.dumps(key)}" if prefix else json.dumps(key)
        text += f"[{name}]\n" + toml_document(table, name)
    return text


def changed(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(SHIPPED))
    table = data
    for key in path[:-1]:
        table = table[key]
    if value is REMOVED:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    return data


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("config") / "config.toml"


def test_the_shipped_settings_written_back_load(config_file):
    config_file.write_text(toml_document(SHIPPED))
    load_settings(config_file, TEST_SECRETS)


@given(path=st.sampled_from(SETTINGS), value=st.one_of(st.just(REMOVED), values))
def test_any_value_of_a_setting_loads_or_stops_start_up_naming_it(config_file, path, value):
    config_file.write_text(toml_document(changed(path, value)))
    try:
        load_settings(config_file, TEST_SECRETS)
    except ConfigError as error:
        assert path[-1] in str(error) or path[-2] in str(error), (path, str(error))


@pytest.mark.parametrize(
    "path", [("telephony", "business_hours", "opens"), ("telephony", "business_hours", "timezone")]
)
def test_a_missing_business_hours_setting_is_named_as_missing(config_file, path):
    """Found by the property above: a missing key was read inside the parsing's `except ValueError`, which caught
    the ConfigError and failed with a KeyError instead."""
    config_file.write_text(toml_document(changed(path, REMOVED)))
    with pytest.raises(ConfigError, match=rf"telephony\.business_hours\.{path[-1]} is missing"):
        load_settings(config_file, TEST_SECRETS)
