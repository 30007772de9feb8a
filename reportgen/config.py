"""Settings: one frozen object built from defaults, an optional TOML config file and CLI flags.

The config file is TOML. Every table is optional::

    [input]
    delimiter = ";"          # sniffed from the header when absent
    encoding = "latin-1"     # UTF-8 (with or without BOM) is tried first when absent

    [input.columns]          # contract name = the header in your extract
    CUST_ID = "customer_number"
    BALANCE = "bal_amt"

    [segmentation]
    k_min = 3
    k_max = 8
    # k = 5                  # force k instead of choosing it
    seed = 42
    bootstrap = 6            # refits on resamples for the stability score
    selection_sample = 20000 # customers used to choose k (the final fit uses everyone)
    silhouette_sample = 3000
    min_segment_share = 0.03
    min_stability = 0.75
    silhouette_tolerance = 0.01

    [personas]
    playbook = "my-personas.toml"   # relative to the config file

Unknown keys are an error (a typo must not be silently ignored).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reportgen.contract import FEATURES, ID_COLUMN
from reportgen.errors import ConfigError
from reportgen.resources import bundled_path


@dataclass(frozen=True)
class InputSettings:
    """How to read the customer extract."""

    delimiter: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentationSettings:
    """How to choose k and fit the segments."""

    k_min: int = 3
    k_max: int = 8
    k: int | None = None
    seed: int = 42
    bootstrap: int = 6
    selection_sample: int = 20_000
    silhouette_sample: int = 3_000
    min_segment_share: float = 0.03
    min_stability: float = 0.75
    silhouette_tolerance: float = 0.01


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides the data itself."""

    input: InputSettings = field(default_factory=InputSettings)
    segmentation: SegmentationSettings = field(default_factory=SegmentationSettings)
    playbook: Path = field(default_factory=lambda: bundled_path("data", "personas.toml"))
    config_path: Path | None = None


def load_settings(path: Path | None = None, *, k: int | None = None) -> Settings:
    """Read the TOML config at ``path`` (defaults when ``None``) and apply CLI overrides."""
    settings = Settings() if path is None else _settings_from_file(Path(path))
    if k is not None:
        settings = replace(settings, segmentation=replace(settings.segmentation, k=k))
    _check_segmentation(settings.segmentation, settings.config_path)
    return settings


def _settings_from_file(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _reject_unknown(raw, {"input", "segmentation", "personas"}, path, "top level")
    input_raw = dict(raw.get("input", {}))
    _reject_unknown(input_raw, {"delimiter", "encoding", "columns"}, path, "[input]")
    columns = {str(k): str(v) for k, v in input_raw.pop("columns", {}).items()}
    known = {ID_COLUMN, *FEATURES}
    bad = sorted(set(columns) - known)
    if bad:
        raise ConfigError(
            f"{path}: [input.columns] maps unknown contract column(s) {', '.join(bad)}; "
            f"valid names: {ID_COLUMN}, {', '.join(FEATURES)}"
        )
    seg_raw = raw.get("segmentation", {})
    valid_seg = {f.name for f in fields(SegmentationSettings)}
    _reject_unknown(seg_raw, valid_seg, path, "[segmentation]")
    personas_raw = raw.get("personas", {})
    _reject_unknown(personas_raw, {"playbook"}, path, "[personas]")
    playbook = Settings().playbook
    if "playbook" in personas_raw:
        playbook = (path.parent / personas_raw["playbook"]).resolve()
    try:
        segmentation = SegmentationSettings(**seg_raw)
        inp = InputSettings(columns=columns, **input_raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Settings(input=inp, segmentation=segmentation, playbook=playbook, config_path=path)


def _reject_unknown(table: dict[str, Any], valid: set[str], path: Path, where: str) -> None:
    unknown = sorted(set(table) - valid)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} in {where}; valid keys: {', '.join(sorted(valid))}"
        )


def _check_segmentation(seg: SegmentationSettings, path: Path | None) -> None:
    where = f"{path}: " if path else ""
    ints = ("k_min", "k_max", "seed", "bootstrap", "selection_sample", "silhouette_sample")
    for name in ints:
        value = getattr(seg, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}segmentation.{name} must be a whole number, got {value!r}")
    if not 2 <= seg.k_min <= seg.k_max <= 20:
        raise ConfigError(f"{where}k range {seg.k_min}..{seg.k_max} is invalid; need 2 <= k_min <= k_max <= 20")
    if seg.k is not None and not (isinstance(seg.k, int) and 2 <= seg.k <= 20):
        raise ConfigError(f"{where}k must be a whole number from 2 to 20, got {seg.k!r}")
    if seg.bootstrap < 2:
        raise ConfigError(f"{where}segmentation.bootstrap must be at least 2, got {seg.bootstrap}")
    if seg.silhouette_sample < 100 or seg.selection_sample < 100:
        raise ConfigError(f"{where}selection_sample and silhouette_sample must be at least 100")
    if not 0 <= seg.min_segment_share < 0.5 or not 0 <= seg.min_stability <= 1:
        raise ConfigError(f"{where}min_segment_share must be in [0, 0.5) and min_stability in [0, 1]")
