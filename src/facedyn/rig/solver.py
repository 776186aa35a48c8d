"""Coefficients <-> mesh offsets: apply is a weighted sum, solve a bounded least squares."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from facedyn.rig.blendshapes import BLENDSHAPES, build_basis
from facedyn.tracking import topology as T

# Antagonist pairs (eyeLookUp/Down, jawLeft/Right, ...) are exact opposites, so the normal
# matrix is singular; a tiny ridge makes it factorable and the 0..1 bounds pick the active one.
RIDGE = 1e-6

# One frame's products (52 x 1434) go through einsum's own loop, not BLAS: BLAS would wake its
# thread pool for them (which then spins idle beside the pipeline's other threads), and its
# thread count, which is process-wide, changes the result's last bits. Limiting it per call
# made a concurrent thread's BLAS results depend on timing (the pipelined and serial outputs
# differed now and then); einsum gives the same bits on every thread, every time.
_ONE_FRAME = "k,kv->v"


class Rig:
    """The 52 ARKit blendshapes as (478, 3) displacement fields in the pose-free head frame.

    Args:
        basis: (52, 478, 3) fields in BLENDSHAPES order (default: build_basis()).
    """

    def __init__(self, basis: np.ndarray | None = None) -> None:
        self.basis = build_basis() if basis is None else np.asarray(basis, dtype=np.float64)
        if self.basis.shape != (len(BLENDSHAPES), T.N_VERTICES, 3):
            raise ValueError(f"expected a ({len(BLENDSHAPES)}, 478, 3) basis, got {self.basis.shape}")
        a = self.basis.reshape(len(BLENDSHAPES), -1)  # (52, 1434)
        gram = a @ a.T
        gram += RIDGE * np.trace(gram) / len(gram) * np.eye(len(gram))
        self._a = a
        self._gram = gram

    @property
    def names(self) -> tuple[str, ...]:
        return BLENDSHAPES

    def vector(self, coefficients: Mapping[str, float]) -> np.ndarray:
        """(52,) coefficient vector from {name: value}; unknown names raise ValueError."""
        out = np.zeros(len(BLENDSHAPES))
        for name, value in coefficients.items():
            if name not in BLENDSHAPES:
                raise ValueError(f"unknown blendshape {name!r}; expected one of the 52 ARKit names, e.g. 'jawOpen'")
            out[BLENDSHAPES.index(name)] = value
        return out

    def apply(self, coefficients: np.ndarray | Mapping[str, float]) -> np.ndarray:
        """Offsets for coefficients.

        Args:
            coefficients: (52,) or (N, 52) values (0..1 is the designed range), or {name: value}.

        Returns:
            (478, 3) or (N, 478, 3) float64 offsets in the head frame (face height about 1).
        """
        c = self.vector(coefficients) if isinstance(coefficients, Mapping) else np.asarray(coefficients, np.float64)
        if c.shape[-1] != len(BLENDSHAPES):
            raise ValueError(f"expected (..., {len(BLENDSHAPES)}) coefficients, got {c.shape}")
        if c.ndim > 1:
            return (c @ self._a).reshape(*c.shape[:-1], T.N_VERTICES, 3)
        return np.einsum(_ONE_FRAME, c, self._a).reshape(T.N_VERTICES, 3)

    def solve(self, offsets: np.ndarray) -> np.ndarray:
        """Coefficients in 0..1 whose fields best add up to `offsets` (bounded least squares,
        solved exactly by projected Newton steps on the 52x52 normal equations; well under
        a millisecond a frame).

        Args:
            offsets: (478, 3) or (N, 478, 3) expression offsets in the head frame.

        Returns:
            (52,) or (N, 52) float64 coefficients.
        """
        off = np.asarray(offsets, np.float64)
        if off.shape[-2:] != (T.N_VERTICES, 3):
            raise ValueError(f"expected (..., 478, 3) offsets, got {off.shape}")
        flat = off.reshape(-1, T.N_VERTICES * 3)
        rhs = flat @ self._a.T if len(flat) > 1 else np.einsum("nv,kv->nk", flat, self._a)  # (N, 52)
        out = np.array([box_least_squares(self._gram, h) for h in rhs])  # 52 x 52: below BLAS's threading size
        return out.reshape(*off.shape[:-2], len(BLENDSHAPES))


def box_least_squares(gram: np.ndarray, h: np.ndarray, iterations: int = 60) -> np.ndarray:
    """argmin 0.5 x^T G x - h^T x subject to 0 <= x <= 1, for a positive definite G (K, K).

    Projected Newton (Bertsekas 1982): variables at a bound whose gradient pushes them
    outwards stay fixed; a Newton step on the others, projected onto the box, halved until
    the objective drops. Exact once the active set settles (a handful of steps).
    """
    x = np.clip(np.linalg.solve(gram, h), 0.0, 1.0)
    value = 0.5 * x @ gram @ x - h @ x
    for _ in range(iterations):
        grad = gram @ x - h
        fixed = ((x <= 0.0) & (grad > 0)) | ((x >= 1.0) & (grad < 0))
        free = ~fixed
        if not free.any():
            break
        step = np.zeros_like(x)
        step[free] = -np.linalg.solve(gram[np.ix_(free, free)], grad[free])
        alpha = 1.0
        while alpha > 1e-6:
            candidate = np.clip(x + alpha * step, 0.0, 1.0)
            new_value = 0.5 * candidate @ gram @ candidate - h @ candidate
            if new_value <= value:
                break
            alpha *= 0.5
        else:
            break
        done = np.abs(candidate - x).max() < 1e-10
        x, value = candidate, new_value
        if done:
            break
    return x
