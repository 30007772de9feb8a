"""The persona playbook and the naming of segments.

A playbook (TOML, see ``data/personas.toml``) lists personas, each with a signature: weights on
profile z-scores. Segments are matched to personas by an optimal one-to-one assignment
(:func:`scipy.optimize.linear_sum_assignment`) on fit scores. A segment whose assigned fit is
below the playbook's ``min_fit`` gets an honest descriptive name from its strongest traits, never
a persona it does not resemble.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.data.contract import BY_NAME, FEATURES, RATIOS
from reportgen.errors import ConfigError
from reportgen.report.formatting import strip_illegal

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#009E73", "#E69F00", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999", "#000000")
PROFILE_FEATURES: tuple[str, ...] = (*FEATURES, *RATIOS)
TRAIT_LABELS: dict[str, tuple[str, str]] = {
    "BALANCE": ("high balances", "low balances"),
    "PURCHASES": ("high spend", "low spend"),
    "PURCHASES_FREQUENCY": ("frequent purchases", "rare purchases"),
    "PURCHASES_TRX": ("many purchases", "few purchases"),
    "ONEOFF_PURCHASES": ("large one-off purchases", "few one-off purchases"),
    "INSTALLMENTS_PURCHASES": ("instalment buyers", "no instalments"),
    "CASH_ADVANCE": ("cash-advance users", "no cash advances"),
    "CREDIT_LIMIT": ("high limits", "low limits"),
    "PAYMENTS": ("large payments", "small payments"),
    "PRC_FULL_PAYMENT": ("pay in full", "rarely pay in full"),
    "UTILISATION": ("high utilisation", "low utilisation"),
    "TENURE": ("long tenure", "new accounts"),
}


@dataclass(frozen=True)
class Persona:
    """One persona of the playbook."""

    key: str
    name: str
    description: str
    signature: dict[str, float]
    actions: tuple[str, ...]
    risks: tuple[str, ...]
    color: str | None = None


@dataclass(frozen=True)
class Playbook:
    """All personas and the minimum fit for a segment to take a persona's name."""

    personas: tuple[Persona, ...]
    min_fit: float
    path: Path


@dataclass(frozen=True)
class Naming:
    """What one segment is called, and why."""

    name: str
    persona_key: str | None
    fit: float
    description: str
    actions: tuple[str, ...]
    risks: tuple[str, ...]
    traits: tuple[str, ...]


def load_playbook(path: Path) -> Playbook:
    """Read and check a playbook file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: persona playbook not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read persona playbook ({exc})") from None
    entries = raw.get("persona", [])
    if not entries:
        raise ConfigError(f"{path}: the playbook defines no [[persona]] entries")
    personas = tuple(_persona(path, i, entry) for i, entry in enumerate(entries, 1))
    for attr in ("key", "name"):
        values = [getattr(p, attr) for p in personas]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ConfigError(f"{path}: persona {attr} {dupes[0]!r} is used more than once")
    min_fit = raw.get("min_fit", 0.35)
    if not isinstance(min_fit, (int, float)) or not 0 <= min_fit <= 3:
        raise ConfigError(f"{path}: min_fit must be a number from 0 to 3")
    return Playbook(personas=personas, min_fit=float(min_fit), path=path)


def _persona(path: Path, position: int, entry: dict) -> Persona:
    where = f"{path}: persona #{position}"
    missing = [f for f in ("key", "name", "description", "signature") if not entry.get(f)]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    signature = entry["signature"]
    unknown = sorted(set(signature) - set(PROFILE_FEATURES))
    if unknown:
        raise ConfigError(f"{where} ({entry['name']}): unknown signature feature(s) {', '.join(unknown)}; valid: {', '.join(PROFILE_FEATURES)}")
    if not all(isinstance(w, (int, float)) for w in signature.values()) or not any(signature.values()):
        raise ConfigError(f"{where} ({entry['name']}): signature weights must be numbers, not all zero")
    # The playbook is user text: what XML cannot carry is dropped here, once, for every format.
    return Persona(
        key=strip_illegal(str(entry["key"])),
        name=strip_illegal(str(entry["name"])).strip(),
        description=strip_illegal(str(entry["description"])),
        signature={k: float(v) for k, v in signature.items()},
        actions=tuple(strip_illegal(str(a)) for a in entry.get("actions", ())),
        risks=tuple(strip_illegal(str(r)) for r in entry.get("risks", ())),
        color=entry.get("color"),
    )


def score_fits(z_profiles: np.ndarray, playbook: Playbook) -> np.ndarray:
    """Fit of every segment (rows of ``z_profiles`` over PROFILE_FEATURES) to every persona."""
    index = {name: i for i, name in enumerate(PROFILE_FEATURES)}
    weights = np.zeros((len(PROFILE_FEATURES), len(playbook.personas)))
    for j, persona in enumerate(playbook.personas):
        total = sum(abs(w) for w in persona.signature.values())
        for feature, w in persona.signature.items():
            weights[index[feature], j] = w / total
    return np.clip(z_profiles, -3, 3) @ weights


def name_segments(z_profiles: np.ndarray, playbook: Playbook) -> list[Naming]:
    """Assign personas to segments one-to-one, maximising the total fit."""
    fits = score_fits(z_profiles, playbook)
    from scipy.optimize import linear_sum_assignment  # imported here: the render lanes never need it

    rows, cols = linear_sum_assignment(-fits)
    assigned = dict(zip(rows.tolist(), cols.tolist()))
    namings = []
    for seg in range(len(z_profiles)):
        traits = describe_traits(z_profiles[seg])
        j = assigned.get(seg)
        if j is not None and fits[seg, j] >= playbook.min_fit:
            p = playbook.personas[j]
            namings.append(Naming(p.name, p.key, float(fits[seg, j]), p.description, p.actions, p.risks, traits))
        else:
            best = float(fits[seg].max()) if fits.shape[1] else 0.0
            namings.append(_descriptive(traits, best))
    return _disambiguate(namings)


def saved_naming(info, z: np.ndarray, playbook: Playbook, fits: np.ndarray) -> Naming:
    """The naming of a segment a saved model already named: its persona's texts from the
    playbook (by key), or the descriptive texts when it has no persona."""
    traits = describe_traits(z)
    keys = [p.key for p in playbook.personas]
    if info.persona_key in keys:
        j = keys.index(info.persona_key)
        p = playbook.personas[j]
        return Naming(info.name, p.key, float(fits[j]), p.description, p.actions, p.risks, traits)
    best = float(fits.max()) if len(fits) else 0.0
    descriptive = _descriptive(traits, best)
    return Naming(info.name, None, best, descriptive.description, descriptive.actions, descriptive.risks, traits)


def describe_traits(z: np.ndarray, count: int = 3) -> tuple[str, ...]:
    """The segment's strongest readable traits, strongest first (e.g. 'high balances')."""
    scored = []
    for i, feature in enumerate(PROFILE_FEATURES):
        if feature in TRAIT_LABELS and abs(z[i]) >= 0.25:
            scored.append((abs(z[i]), TRAIT_LABELS[feature][0 if z[i] > 0 else 1]))
    scored.sort(key=lambda t: -t[0])
    return tuple(label for _, label in scored[:count]) or ("close to the portfolio average",)


def _descriptive(traits: tuple[str, ...], best_fit: float) -> Naming:
    name = " & ".join(t.capitalize() if i == 0 else t for i, t in enumerate(traits[:2]))
    text = f"A segment that matches no persona of the playbook; its strongest traits: {', '.join(traits)}."
    return Naming(name, None, best_fit, text, (
        "Review this segment with the marketing team and add a persona to the playbook if it recurs",
    ), ("No playbook guidance: treat with the portfolio's standard policies",), traits)


def _disambiguate(namings: list[Naming]) -> list[Naming]:
    seen: dict[str, int] = {}
    out = []
    for n in namings:
        seen[n.name] = seen.get(n.name, 0) + 1
        if seen[n.name] > 1:
            n = Naming(f"{n.name} ({seen[n.name]})", n.persona_key, n.fit, n.description, n.actions, n.risks, n.traits)
        out.append(n)
    return out


def assign_colors(namings: list[Naming], playbook: Playbook) -> list[str]:
    """One colour per segment: the persona's own, else the next unused palette colour."""
    by_key = {p.key: p.color for p in playbook.personas}
    used = {c.upper() for c in by_key.values() if c}
    spare = [c for c in PALETTE if c.upper() not in used]
    colors = []
    for n in namings:
        color = by_key.get(n.persona_key) if n.persona_key else None
        colors.append(color or spare.pop(0) if color or spare else "#444444")
    return colors


def feature_label(feature: str) -> str:
    """Human label of a profile feature."""
    if feature in RATIOS:
        return RATIOS[feature][2]
    return BY_NAME[feature].description
