"""The expression library (labels as rig coefficient mixes), envelopes and timelines.

Emotions follow their FACS action-unit recipes (Ekman & Friesen's EMFACS prototypes), each
AU mapped to the ARKit shapes that move the same muscles:
AU1 browInnerUp, AU2 browOuterUp, AU4 browDown, AU5 eyeWide, AU6 cheekSquint, AU7 eyeSquint,
AU9 noseSneer, AU10 mouthUpperUp, AU12 mouthSmile, AU14 mouthDimple, AU15 mouthFrown,
AU16 mouthLowerDown, AU17 mouthShrugLower, AU20 mouthStretch, AU23/24 mouthPress,
AU25/26 jawOpen, AU45 eyeBlink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from facedyn.errors import InputError
from facedyn.rig.blendshapes import BLENDSHAPES


def _both(name: str, value: float) -> dict[str, float]:
    return {f"{name}Left": value, f"{name}Right": value}


POSED_MAX = 2.0  # label coefficients may reach twice the rig's calibrated (conversational) range

# Posed prototypes are stronger than anything in the conversational calibration videos (where
# coefficient 1 is a video's 98th percentile), so the emotions use coefficients up to
# POSED_MAX; at the calibrated range FER read most of them as neutral (README, Quality).
EXPRESSIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    # happiness: AU6 + AU12 (+ AU10/AU25 parting the lips over the upper teeth)
    "smile": {**_both("mouthSmile", 1.6), **_both("cheekSquint", 1.0), **_both("eyeSquint", 0.4), "jawOpen": 0.25,
              **_both("mouthUpperUp", 0.6), **_both("mouthLowerDown", 0.4)},
    # AU6 + AU12 + AU25/26 (+ AU10 showing the upper teeth)
    "laugh": {**_both("mouthSmile", 1.8), **_both("cheekSquint", 1.0), **_both("eyeSquint", 0.6), "jawOpen": 0.9,
              **_both("mouthUpperUp", 0.5)},
    # AU1 + AU2 + AU5 + AU26 (the dropped jaw gives an oval, slightly rounded mouth)
    "surprise": {"browInnerUp": 1.6, **_both("browOuterUp", 1.6), **_both("eyeWide", 1.4), "jawOpen": 1.0,
                 "mouthFunnel": 0.4},
    # AU1 + AU4 + AU15 (+ AU17, AU43 lids a little heavy)
    "sad": {"browInnerUp": 1.8, **_both("browDown", 0.8), **_both("mouthFrown", 1.8), "mouthShrugLower": 1.2,
            "mouthRollLower": 0.3, **_both("eyeSquint", 0.4), **_both("eyeBlink", 0.25)},
    # AU4 + AU5 + AU7 + AU10 + AU23 + AU25/26 (+ AU9): the open-mouthed EMFACS anger, glaring
    # with the upper teeth bared; noseSneer stays at 1.2, above that it folds the nose wing
    "angry": {**_both("browDown", 2.0), **_both("eyeWide", 0.8), **_both("eyeSquint", 0.9), **_both("mouthPress", 1.0),
              **_both("noseSneer", 1.2), **_both("mouthUpperUp", 0.6), "jawOpen": 1.2},
    # AU9 + AU15 + AU16 (+ AU10, AU4, AU6)
    "disgust": {**_both("noseSneer", 1.6), **_both("mouthUpperUp", 1.0), **_both("mouthFrown", 0.8),
                **_both("mouthLowerDown", 0.4), **_both("browDown", 0.8), **_both("cheekSquint", 0.6)},
    # AU1 + AU2 + AU4 + AU5 + AU20 + AU26
    "fear": {"browInnerUp": 1.6, **_both("browOuterUp", 0.8), **_both("browDown", 0.6), **_both("eyeWide", 1.6),
             **_both("mouthStretch", 1.4), "jawOpen": 0.4},
    # unilateral AU12 + AU14 (the person's right side)
    "contempt": {"mouthSmileRight": 0.5, "mouthDimpleRight": 0.8, "eyeSquintRight": 0.2},
    "wink-left": {"eyeBlinkLeft": 1.0, "cheekSquintLeft": 0.4, "mouthSmileLeft": 0.3},
    "wink-right": {"eyeBlinkRight": 1.0, "cheekSquintRight": 0.4, "mouthSmileRight": 0.3},
    "blink": _both("eyeBlink", 1.0),
    "pucker": {"mouthPucker": 1.0, "mouthFunnel": 0.2},
    # visemes
    "a": {"jawOpen": 0.65, **_both("mouthLowerDown", 0.3)},
    "e": {"jawOpen": 0.25, **_both("mouthStretch", 0.6), **_both("mouthUpperUp", 0.2)},
    "o": {"jawOpen": 0.4, "mouthFunnel": 0.8, "mouthPucker": 0.4},
}
SHORT = {"blink", "wink-left", "wink-right"}  # default length 0.3 s instead of the clip length


def expression_vector(label: str, intensity: float = 1.0) -> np.ndarray:
    """(52,) coefficients of an expression label at an intensity (0..1.5), each 0..POSED_MAX.

    Raises:
        InputError: unknown label or intensity out of range.
    """
    if label not in EXPRESSIONS:
        raise InputError(f"unknown expression {label!r}; choose one of: {', '.join(EXPRESSIONS)}")
    if not 0.0 <= intensity <= 1.5:
        raise InputError(f"intensity must be in 0..1.5, got {intensity}")
    out = np.zeros(len(BLENDSHAPES))
    for name, value in EXPRESSIONS[label].items():
        out[BLENDSHAPES.index(name)] = value
    return np.clip(out * intensity, 0.0, POSED_MAX)


def envelope(t: np.ndarray, start: float, end: float, onset: float = 0.25, offset: float = 0.25,
             returns: bool = True) -> np.ndarray:
    """Weight 0..1 over times `t` (seconds) of one clip: eased onset, apex, eased offset.

    onset/offset: shares of the clip's length (each 0..0.5) spent rising and falling, with a
        smoothstep ease. returns=False holds the apex after the clip instead of falling.
    """
    length = max(end - start, 1e-6)
    rise = np.clip((t - start) / max(onset * length, 1e-6), 0, 1)
    w = _smoothstep(rise)
    if returns:
        fall = np.clip((end - t) / max(offset * length, 1e-6), 0, 1)
        w = np.minimum(w, _smoothstep(fall))
    return np.where(t < start, 0.0, w)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Clip:
    """One expression on a timeline: label, intensity, start and end in seconds."""

    label: str
    intensity: float
    start: float
    end: float


_CLIP = re.compile(r"^\s*(?P<label>[a-z-]+)\s*(?::\s*(?P<intensity>[0-9.]+))?\s*@\s*(?P<start>[0-9.]+)\s*s?\s*-\s*"
                   r"(?P<end>[0-9.]+)\s*s?\s*$")


MAX_SECONDS = 600.0  # the longest expression clip or timeline (its frames are held in memory)


def parse_timeline(text: str) -> list[Clip]:
    """Clips from "surprise@0-1.2s, smile:0.6@1.5-3s" (label[:intensity]@start-end, seconds,
    ending by MAX_SECONDS).

    Raises:
        InputError: a clip that does not parse, names an unknown label, ends before it starts
            or ends too late.
    """
    clips = []
    for k, part in enumerate(str(text).split(","), start=1):
        item = f"timeline item {k} ({part.strip()!r})"
        m = _CLIP.match(part)
        try:
            clip = Clip(m["label"], float(m["intensity"] or 1.0), float(m["start"]), float(m["end"]))
        except (TypeError, ValueError):
            raise InputError(f"{item} is not label[:intensity]@start-end, e.g. smile:0.6@1.5-3s") from None
        expression_vector(clip.label, clip.intensity)  # validates
        if clip.end <= clip.start:
            raise InputError(f"{item} ends before it starts")
        if clip.end > MAX_SECONDS:
            raise InputError(f"{item} ends after {MAX_SECONDS:.0f} s, the longest timeline")
        clips.append(clip)
    return clips


def timeline_coefficients(clips: list[Clip], times: np.ndarray, returns: bool = True) -> np.ndarray:
    """(N, 52) coefficients at `times` (seconds): each clip's mix times its envelope, summed
    and clipped to 0..POSED_MAX (overlapping clips blend)."""
    out = np.zeros((len(times), len(BLENDSHAPES)))
    for clip in clips:
        out += envelope(times, clip.start, clip.end, returns=returns)[:, None] * expression_vector(clip.label, clip.intensity)
    return np.clip(out, 0.0, POSED_MAX)
