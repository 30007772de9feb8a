"""The persona playbook and the naming of segments.

A playbook (TOML, see ``data/personas.toml``) lists personas, each with a signature (weights on
profile z-scores: how the segment differs from the portfolio) and criteria on the segment's own
numbers (:mod:`reportgen.segmentation.criteria`: what the name claims). A segment may carry a
persona's name only when it meets every criterion of that persona, its fit is at least the
playbook's ``min_fit``, and the segment is stable (it reappears in refits on resamples). Segments
are matched to such personas by an optimal one-to-one assignment
(:func:`scipy.optimize.linear_sum_assignment`) on fit scores; a segment whose fit beats every other
persona still open to it by less than ``min_margin`` fits two personas almost equally. A segment that
fits none, fits two almost equally, or is unstable gets an honest descriptive name from its
strongest traits, never a persona it does not resemble.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from reportgen.data.contract import BY_NAME, FEATURES, RATIOS
from reportgen.errors import ConfigError
from reportgen.report.colours import SEGMENT_PALETTE
from reportgen.report.formatting import format_number, strip_illegal
from reportgen.segmentation.actions import ActionSpec, Sentence, parse_actions, parse_sentences
from reportgen.segmentation.criteria import Check, Criterion, parse_criterion
from reportgen.segmentation.stability import STABLE

# Okabe-Ito hues, each readable on white (see reportgen.report.colours, the one colour system).
PALETTE = SEGMENT_PALETTE
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
    description: tuple[Sentence, ...]
    signature: dict[str, float]
    actions: tuple[ActionSpec, ...]
    risks: tuple[Sentence, ...]
    color: str | None = None
    criteria: tuple[Criterion, ...] = ()


@dataclass(frozen=True)
class Playbook:
    """All personas, the minimum fit and margin for a segment to take a persona's name, and the
    number of segments the playbook expects (the k rule's prior; default: one per persona)."""

    personas: tuple[Persona, ...]
    min_fit: float
    path: Path
    min_margin: float = 0.10
    expected_segments: int | None = None


@dataclass(frozen=True)
class Naming:
    """What one segment is called, and why."""

    name: str
    persona_key: str | None
    fit: float
    description: tuple[Sentence, ...]
    actions: tuple[ActionSpec, ...]
    risks: tuple[Sentence, ...]
    traits: tuple[str, ...]
    checks: tuple[Check, ...] = ()  # the persona's criteria on this segment's numbers
    note: str = ""  # why a segment has no persona name, when it has none


_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


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
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: persona entries must be [[persona]] tables")
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
    min_margin = raw.get("min_margin", 0.10)
    if not isinstance(min_margin, (int, float)) or not 0 <= min_margin <= 3:
        raise ConfigError(f"{path}: min_margin must be a number from 0 to 3")
    expected = raw.get("segments", len(personas))
    if isinstance(expected, bool) or not isinstance(expected, int) or not 2 <= expected <= 20:
        raise ConfigError(f"{path}: segments (the expected number of segments) must be a whole number from 2 to 20")
    return Playbook(personas, float(min_fit), path, float(min_margin), expected)


def _persona(path: Path, position: int, entry: dict) -> Persona:
    where = f"{path}: persona #{position}"
    missing = [f for f in ("key", "name", "description", "signature") if not entry.get(f)]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    signature = entry["signature"]
    if not isinstance(signature, dict):
        raise ConfigError(f"{where}: signature must be a table of feature = weight")
    unknown = sorted(set(signature) - set(PROFILE_FEATURES))
    if unknown:
        raise ConfigError(f"{where} ({entry['name']}): unknown signature feature(s) {', '.join(unknown)}; valid: {', '.join(PROFILE_FEATURES)}")
    numbers = all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in signature.values())
    if not numbers or not all(math.isfinite(w) for w in signature.values()) or not any(signature.values()):
        raise ConfigError(f"{where} ({entry['name']}): signature weights must be finite numbers, not all zero")
    color = entry.get("color")
    if color is not None and not (isinstance(color, str) and _COLOR.fullmatch(color)):
        raise ConfigError(f"{where} ({entry['name']}): color must be #rgb or #rrggbb, got {str(color)[:40]!r}")
    rules = entry.get("criteria", [])
    if not isinstance(rules, list):
        raise ConfigError(f"{where} ({entry['name']}): criteria must be a list of strings")
    try:
        criteria = tuple(parse_criterion(rule) for rule in rules)
    except ValueError as exc:
        raise ConfigError(f"{where} ({entry['name']}): {exc}") from None
    # The playbook is user text: what XML cannot carry is dropped here, once, for every format.
    # Sentences and actions carry conditions, checked now so a typo stops the run (exit 3).
    named = f"{where} ({entry['name']})"
    return Persona(
        key=strip_illegal(str(entry["key"])),
        name=strip_illegal(str(entry["name"])).strip(),
        description=parse_sentences(entry["description"], f"{named} description"),
        signature={k: float(v) for k, v in signature.items()},
        actions=parse_actions(entry.get("actions", []), named),
        risks=parse_sentences(entry.get("risks", []), f"{named} risks"),
        color=color,
        criteria=criteria,
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


def name_segments(
    z_profiles: np.ndarray, playbook: Playbook, checks: dict | None = None, stability=None
) -> list[Naming]:
    """Assign personas to segments one-to-one, maximising the total fit over the personas each
    segment may carry. ``checks`` (from :func:`~reportgen.segmentation.criteria.check_criteria`)
    holds each persona's criteria per segment (absent: no criteria); ``stability`` each segment's
    stability (absent: not measured)."""
    fits = score_fits(z_profiles, playbook)
    from scipy.optimize import linear_sum_assignment  # imported here: the render lanes never need it

    k, keys = len(z_profiles), [p.key for p in playbook.personas]
    met = np.array([[all(c.passed for c in _checks(checks, key, s)) for key in keys] for s in range(k)]).reshape(k, len(keys))
    stable = np.array([stability is None or not np.isfinite(stability[s]) or stability[s] >= STABLE for s in range(k)])
    usable = met & (fits >= playbook.min_fit) & stable[:, None]
    rows, cols = linear_sum_assignment(np.where(usable, -fits, 1e6))
    assigned = {int(r): int(c) for r, c in zip(rows, cols) if usable[r, c]}
    namings = []
    for seg in range(k):
        traits = describe_traits(z_profiles[seg])
        j = assigned.get(seg)
        best = float(fits[seg].max()) if fits.shape[1] else 0.0
        if j is None:
            note = (
                f"unstable: it reappears in refits on resamples with a Jaccard similarity of {format_number(stability[seg])} only"
                if not stable[seg] else "it meets the criteria of no persona of the playbook"
            )
            namings.append(_descriptive(traits, best, note))
            continue
        open_to = [q for q in range(len(keys)) if q != j and usable[seg, q] and q not in _taken(assigned, seg)]
        rival = max(open_to, key=lambda q: fits[seg, q], default=None)
        p = playbook.personas[j]
        if rival is not None and fits[seg, j] - fits[seg, rival] < playbook.min_margin:
            other = playbook.personas[rival]
            note = (f"it fits {p.name} ({format_number(fits[seg, j])}) and {other.name} "
                    f"({format_number(fits[seg, rival])}) almost equally")
            namings.append(_descriptive(traits, float(fits[seg, j]), note))
            continue
        namings.append(Naming(
            p.name, p.key, float(fits[seg, j]), p.description, p.actions, p.risks, traits, _checks(checks, p.key, seg)
        ))
    return _disambiguate(namings)


def _checks(checks: dict | None, key: str, seg: int) -> tuple[Check, ...]:
    return tuple(checks[key][seg]) if checks and key in checks else ()


def _taken(assigned: dict[int, int], seg: int) -> set[int]:
    """Personas given to other segments."""
    return {j for s, j in assigned.items() if s != seg}


def saved_naming(info, z: np.ndarray, playbook: Playbook, fits: np.ndarray, checks: tuple[Check, ...] = ()) -> Naming:
    """The naming of a segment a saved model already named: its persona's texts from the
    playbook (by key), or the descriptive texts when it has no persona. ``checks`` are the
    persona's criteria on this month's numbers."""
    traits = describe_traits(z)
    keys = [p.key for p in playbook.personas]
    if info.persona_key in keys:
        j = keys.index(info.persona_key)
        p = playbook.personas[j]
        return Naming(info.name, p.key, float(fits[j]), p.description, p.actions, p.risks, traits, checks)
    best = float(fits.max()) if len(fits) else 0.0
    if info.persona_key:  # named after a persona the playbook no longer has: the name stays, the texts go
        note = "the playbook no longer has the persona it was named after; the name stays for continuity"
        text = ("The playbook no longer has the persona this segment was named after, so it has no persona texts; "
                f"its strongest traits: {', '.join(traits)}.")
        descriptive = _descriptive(traits, best, note)
        return Naming(info.name, None, best, (Sentence(text),), descriptive.actions, descriptive.risks, traits, (), note)
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


#: Features whose traits say one thing: a name joins at most one of them ("Frequent purchases &
#: many purchases" said it twice).
_ONE_MEANING = (frozenset({"PURCHASES", "PURCHASES_FREQUENCY", "PURCHASES_TRX"}),)


def _name_traits(traits: tuple[str, ...]) -> tuple[str, ...]:
    """The first trait and the next one that says something else (see :data:`_ONE_MEANING`)."""
    def meaning(trait: str):
        feature = next((f for f, labels in TRAIT_LABELS.items() if trait in labels), trait)
        return next((group for group in _ONE_MEANING if feature in group), feature)

    return traits[:1] + tuple(t for t in traits[1:] if meaning(t) != meaning(traits[0]))[:1]


def _descriptive(traits: tuple[str, ...], best_fit: float, note: str = "it matches no persona of the playbook") -> Naming:
    name = " & ".join(t.capitalize() if i == 0 else t for i, t in enumerate(_name_traits(traits)))
    text = f"A segment without a persona name because {note}; its strongest traits: {', '.join(traits)}."
    review = ActionSpec(key="review", text="Review this segment with the marketing team and add a persona to the "
                        "playbook if it recurs", channel="analyst review", priority="low")
    return Naming(name, None, best_fit, (Sentence(text),), (review,),
                  (Sentence("No playbook guidance: treat with the portfolio's standard policies"),), traits, (), note)


def _disambiguate(namings: list[Naming]) -> list[Naming]:
    seen: dict[str, int] = {}
    out = []
    for n in namings:
        seen[n.name] = seen.get(n.name, 0) + 1
        if seen[n.name] > 1:
            n = replace(n, name=f"{n.name} ({seen[n.name]})")
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
