"""Quantisation of facial dynamics, per parameter group (docs/codec.md, "Quantisation").

A frame is the len(PARAMETERS) numbers of drivers.parametric (head pose, 52 rig
coefficients, eye and lip openings). Each parameter belongs to a group with one base step;
a packet's quality index scales each step by 2 ** (share * (quality - QUALITY_UNITY) / 8),
the share 1 but for the eyes' 0.25 and the lips' and mouth width's 0.5. From stream version
2 on, each rig coefficient's step is further scaled by 2 ** (STEP_SHIFTS / 8): coarser for a
coefficient that moves the face little. Values reconstruct as rest + integer * step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facedyn.codec.bitstream import VERSION
from facedyn.drivers.parametric import LIMITS, PARAMETER_LIMITS, PARAMETERS, POSE_PARAMETERS
from facedyn.rig import BLENDSHAPES


@dataclass(frozen=True)
class Group:
    name: str
    step: float  # base step, in the parameters' own units
    dead_zone: bool  # values under one step code as 0 (coefficients rest at 0)
    quality_share: float = 1.0  # how fully the quality scales this step (the exponent's share)
    every_frame: bool = False  # coded on every frame, also between strides


# Base steps balanced by rate against mesh error on tracked faces (doubling a group's step
# saves about as many bits per unit of error added for rotation, position and expression);
# the openings are kept finer than that measure asks, and coarsen more slowly with the
# quality: blinks and closed lips show, and 3 parameters cost little.
GROUPS = (
    Group("rotation", 0.1, False),  # degrees
    Group("position", 0.0004, False),  # face heights (tx, ty) and head size (scale)
    Group("expression", 0.045, True),  # rig coefficients but gaze, 0..1
    Group("gaze", 0.1, True),  # eyeLook* coefficients, 0..1
    Group("eyes", 0.03, False, 0.25, True),  # eye openness, 1 = open as at rest
    Group("lips", 0.0015, False, 0.5, True),  # inner-lip gap, face heights
    Group("mouth width", 0.01, False, 0.5, True),  # lip-corner distance, 1 = as at rest
)


def _group_of(name: str) -> int:
    if name in ("yaw", "pitch", "roll"):
        return 0
    if name in POSE_PARAMETERS:
        return 1
    if name.startswith("eyeLook"):
        return 3
    if name in BLENDSHAPES:
        return 2
    return {"eyeOpenRight": 4, "eyeOpenLeft": 4, "lipGap": 5, "mouthWidth": 6}[name]


GROUP_OF = np.array([_group_of(name) for name in PARAMETERS])  # (len(PARAMETERS),) group index
GROUP_MEMBERS = tuple(np.flatnonzero(GROUP_OF == g) for g in range(len(GROUPS)))  # parameter indices by group
EVERY_FRAME = np.array([GROUPS[g].every_frame for g in GROUP_OF])


def groups_in(full: bool) -> list[int]:
    """The groups coded on a frame on the stride (`full`: all) or between strides."""
    return [g for g, group in enumerate(GROUPS) if full or group.every_frame]


QUALITY_SHARE = np.array([GROUPS[g].quality_share for g in GROUP_OF])
DEAD_ZONE = np.array([GROUPS[g].dead_zone for g in GROUP_OF])
# Key frames predict from rest: no turn, no move, size 1, coefficients 0, eyes open, lips
# closed, the mouth as wide as at rest.
REST = np.array([1.0 if name in ("scale", "eyeOpenRight", "eyeOpenLeft", "mouthWidth") else 0.0 for name in PARAMETERS])
QUALITY_UNITY, QUALITY_MAX = 32, 63
HYSTERESIS = 0.75  # a value keeps its previous level while within this many steps of it
MAX_LEVEL = (1 << 22) - 1  # |integer| cap: far above any value's range at the finest steps


# What a frame's values may be (parametric.LIMITS): a decoder clips to these.
LOW, HIGH = np.array([LIMITS[PARAMETER_LIMITS[n]] if n in PARAMETER_LIMITS else (0.0, 1.0) for n in PARAMETERS]).T


# Version 2's step shift of each rig coefficient, in eighths of an octave, in BLENDSHAPES
# order: round(8 log2 clip(sqrt(SHIFT_REFERENCE / d), 1/4, 4)), d the mean 2D displacement of
# the rig's vertices (face heights) by the coefficient at 1 (rig version 1; a test recomputes
# it). Equal steps spent most bits on coefficients that barely move the face: at 1 kbit/s,
# with the shared change models (stream.py), the mesh distance of the 10 test clips and 6
# motion files fell by a third. The square root and the clip keep small coefficients (lids,
# lip rolls) from coarsening as far as mesh error alone would ask.
SHIFT_REFERENCE = 1.5e-3
STEP_SHIFTS = (4, 7, 6, 6, 7, 7, 3, 4, 7, 7, 7, 7, 7, 3, 16, -8, -8, -14, -2, -6, -9, -10, -10, -6, -7, -4, -4, 2, 2, -2,
               -2, 9, 7, -1, 2, 8, 9, 1, 2, 1, 2, 1, 1, -2, 1, 1, 0, 5, 6, 2, 2, -7)
_SHIFTS = np.zeros(len(PARAMETERS))
_SHIFTS[[PARAMETERS.index(name) for name in BLENDSHAPES]] = STEP_SHIFTS


def steps(base_steps: np.ndarray, quality: int, version: int = VERSION) -> np.ndarray:
    """(len(PARAMETERS),) step of each parameter for group base steps (len(GROUPS),) at
    `quality`, in a stream of `version` (1: no per-coefficient shifts)."""
    shift = QUALITY_SHARE * (quality - QUALITY_UNITY) + (_SHIFTS if version >= 2 else 0.0)
    return np.asarray(base_steps, np.float64)[GROUP_OF] * 2.0 ** (shift / 8)


def quantise(values: np.ndarray, step: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Integer levels for one frame.

    Args:
        values: (len(PARAMETERS),) float frame values (clipped to LOW..HIGH).
        step: (len(PARAMETERS),) steps.
        previous: (len(PARAMETERS),) int64 the previous frame's levels (the prediction:
            extrapolating the last change cost 3-12% more bits on tracked faces), or None (key frame).

    Returns:
        (len(PARAMETERS),) int64 levels; the reconstruction levels * step is within one step
        of each value (HYSTERESIS steps, or the dead zone's one step for coefficients).
    """
    units = (np.clip(values, LOW, HIGH) - REST) / step
    levels = np.rint(units)
    if previous is not None:
        keep = np.abs(units - previous) <= HYSTERESIS
        levels = np.where(keep, previous, levels)
    levels = np.where(DEAD_ZONE & (np.abs(values - REST) < step), 0, levels)
    return np.clip(levels, -MAX_LEVEL, MAX_LEVEL).astype(np.int64)


def dequantise(levels: np.ndarray, step: np.ndarray) -> np.ndarray:
    """(len(PARAMETERS),) float64 values for integer levels."""
    return REST + levels * step
