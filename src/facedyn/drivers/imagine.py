"""Imagine: stochastic, reproducible natural motion for a single photo.

The statistics, per style (calm | lively):

- Blinks: a Poisson process with a 1 s refractory gap, at 15 | 24 blinks a minute (people
  blink about 17 times a minute at rest and about 26 while talking: Bentivoglio et al. 1997,
  Movement Disorders 12(6)); each blink lasts 0.2-0.4 s (log-normal around 0.27 s), closing in
  the first third and opening in the rest (the lid closes faster than it opens).
- Gaze: fixations lasting 0.6-4 s | 0.3-2 s (exponential, mean 2.0 | 1.0 s), then a saccade
  of up to 0.25 | 0.45 of the eyeLook range, done within two frames (saccades take 30-80 ms).
  The eyes return towards the centre more often than they wander (targets are drawn from a
  normal distribution around it).
- Head sway: three sinusoids per axis, 0.05-0.4 Hz with random phases, peak about 3/2/1.5
  degrees (yaw/pitch/roll) | twice that: the slow drift of a person sitting still.
- Small expressions: every 6-12 s | 3-7 s a light smile (0.3 | 0.5) or, when lively, a brow
  raise, with eased onset and offset over 1.5-3 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedyn.drivers.parametric import MotionTrack, check_fps
from facedyn.errors import InputError
from facedyn.rig import BLENDSHAPES
from facedyn.rig.expressions import MAX_SECONDS, envelope, expression_vector


@dataclass(frozen=True)
class Style:
    blinks_per_minute: float
    fixation_mean_s: float
    saccade_reach: float
    sway_degrees: tuple[float, float, float]
    expression_every_s: tuple[float, float]
    expression_intensity: float


STYLES = {
    "calm": Style(15.0, 2.0, 0.25, (3.0, 2.0, 1.5), (6.0, 12.0), 0.3),
    "lively": Style(24.0, 1.0, 0.45, (6.0, 4.0, 3.0), (3.0, 7.0), 0.5),
}


def imagine(seconds: float = 10.0, seed: int = 0, style: str = "calm", fps: float = 25.0) -> MotionTrack:
    """Natural idle motion; the same seed gives the same motion.

    Args:
        seconds: length, 0.5..MAX_SECONDS.
        seed: any whole number >= 0.
        style: "calm" or "lively".
        fps: frames per second (1..1000).

    Raises:
        InputError: unknown style, a negative seed, or a length or fps out of range.
    """
    if style not in STYLES:
        raise InputError(f"unknown style {style!r}; choose calm or lively")
    if not 0.5 <= seconds <= MAX_SECONDS:
        raise InputError(f"duration must be in 0.5..{MAX_SECONDS:.0f} seconds, got {seconds}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
    fps = check_fps(fps)
    st, rng = STYLES[style], np.random.default_rng(seed)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    coefficients = _blinks(t, st, rng) + _gaze(t, st, rng, fps) + _expressions(t, st, rng)
    return MotionTrack(fps, np.clip(coefficients, 0, 1), _sway(t, st, rng))


def _blinks(t: np.ndarray, st: Style, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((len(t), len(BLENDSHAPES)))
    closed = np.zeros(len(t))
    start = rng.exponential(60.0 / st.blinks_per_minute)
    while start < t[-1]:
        length = float(np.clip(rng.lognormal(np.log(0.27), 0.2), 0.2, 0.4))
        closing = np.clip((t - start) / (length / 3), 0, 1)
        opening = np.clip((start + length - t) / (2 * length / 3), 0, 1)
        closed = np.maximum(closed, np.where(t < start, 0, np.minimum(closing, opening)))
        start += length + 1.0 + rng.exponential(max(60.0 / st.blinks_per_minute - 1.0, 0.1))
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        out[:, BLENDSHAPES.index(name)] = closed
    return out


def _gaze(t: np.ndarray, st: Style, rng: np.random.Generator, fps: float) -> np.ndarray:
    target = np.zeros((len(t), 2))
    k, x, y = 0, 0.0, 0.0
    while k < len(t):
        hold = max(2, int(rng.exponential(st.fixation_mean_s) * fps + 0.3 * fps))
        target[k: k + hold] = (x, y)
        k += hold
        x, y = np.clip(rng.normal(0, st.saccade_reach / 2, 2), -st.saccade_reach, st.saccade_reach)
    # a saccade takes about two frames
    target = np.vstack([target[:1], 0.5 * (target[1:] + target[:-1])])
    out = np.zeros((len(t), len(BLENDSHAPES)))
    gx, gy = target[:, 0], target[:, 1]  # x > 0: towards the person's left; y > 0: up
    for side, towards_left in (("Left", "Out"), ("Right", "In")):
        away = "In" if towards_left == "Out" else "Out"
        out[:, BLENDSHAPES.index(f"eyeLook{towards_left}{side}")] = np.clip(gx, 0, None)
        out[:, BLENDSHAPES.index(f"eyeLook{away}{side}")] = np.clip(-gx, 0, None)
        out[:, BLENDSHAPES.index(f"eyeLookUp{side}")] = np.clip(gy, 0, None)
        out[:, BLENDSHAPES.index(f"eyeLookDown{side}")] = np.clip(-gy, 0, None)
    return out


def _sway(t: np.ndarray, st: Style, rng: np.random.Generator) -> np.ndarray:
    angles = np.zeros((len(t), 3))
    for axis, peak in enumerate(st.sway_degrees):
        freqs = rng.uniform(0.05, 0.4, 3)
        phases = rng.uniform(0, 2 * np.pi, 3)
        weights = rng.uniform(0.5, 1.0, 3)
        wave = (weights[None] * np.sin(2 * np.pi * freqs[None] * t[:, None] + phases[None])).sum(1)
        angles[:, axis] = peak * wave / weights.sum()
    return angles


def _expressions(t: np.ndarray, st: Style, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros((len(t), len(BLENDSHAPES)))
    start = rng.uniform(*st.expression_every_s) / 2
    while start < t[-1]:
        length = rng.uniform(1.5, 3.0)
        label = "smile" if st.expression_intensity < 0.4 or rng.random() < 0.6 else "surprise"
        mix = expression_vector(label, st.expression_intensity)
        if label == "surprise":
            mix[BLENDSHAPES.index("jawOpen")] = 0.0  # a brow raise, not a gasp
        out += envelope(t, start, start + length)[:, None] * mix
        start += length + rng.uniform(*st.expression_every_s)
    return out
