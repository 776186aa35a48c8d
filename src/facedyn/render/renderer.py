"""Per-frame rendering: move the control mesh, rasterise one backward map, remap, composite."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.geometry.folds import OPENINGS, Unfolder
from facedyn.geometry.pose import HeadPose
from facedyn.render.layers import SourceLayers
from facedyn.render.mouth import MouthInterior
from facedyn.render.openings import draw_closed, openness, prepare_closings
from facedyn.render.rasterize import BackwardMapper
from facedyn.render.shading import FoldShader


@dataclass(frozen=True)
class RenderConfig:
    """How frames are drawn."""

    paste_back: bool = True  # True: the full photo at its own resolution; False: the working crop
    map_step: int = 3  # backward map grid step in working pixels (1 exact .. 4 fastest)
    mouth_interior: bool = True  # fill an opening mouth: the photo's own teeth, else the driver's interior, else drawn
    fold_shading: float = 1.0  # 0..1: darken skin the motion compresses, as a fold's shadow would


class Renderer:
    """Draws frames of one source for target meshes.

    Args:
        layers: the prepared source.
        config: drawing options.
        scale: output pixels per photo pixel (paste-back) or per working pixel (crop), in
            (0, 1]: below 1 the frame is drawn smaller, and the paste-back work shrinks with it.
        rest: (478, 3) the face at rest in the head frame, that folds are judged against
            (Retargeter.rest_shape: the photo's mouth closed in hybrid mode); default the photo's.

    Raises:
        ValueError: a scale outside (0, 1].
    """

    def __init__(self, layers: SourceLayers, config: RenderConfig = RenderConfig(), scale: float = 1.0,
                 rest: np.ndarray | None = None) -> None:
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        self.layers, self.config = layers, config
        h, w = layers.image.shape[:2]
        self._working = (h, w)
        self._final = (h, w) if scale == 1.0 else (max(2, round(h * scale)), max(2, round(w * scale)))
        if config.paste_back:
            self._photo, (x0, y0, cw, ch) = _scaled_photo(layers.photo, layers.crop, scale)
            self._box = (x0, y0, cw, ch)
            self._canvas = np.ascontiguousarray(self._photo[y0: y0 + ch, x0: x0 + cw])
            mask = cv2.resize(layers.mask, (cw, ch), interpolation=cv2.INTER_LINEAR)
            self._plate = cv2.resize(layers.plate, (cw, ch), interpolation=cv2.INTER_LINEAR)
            self._factor = scale / layers.crop.scale
        else:
            self._canvas, mask, self._plate, self._factor = layers.image, layers.mask, layers.plate, 1.0
        # The person and its mask as one RGBA image: one remap moves both.
        self._layered = np.dstack([self._canvas, np.round(np.clip(mask, 0, 1) * 255).astype(np.uint8)])
        # A motion that is fold-free on the rig's template can still turn this face's own
        # triangles over (a thin nose wing under a sneer): those are smoothed out before drawing.
        self._unfold = Unfolder(layers.pose.to_head_frame(layers.landmarks) if rest is None else rest, pinned=OPENINGS)
        self._mapper = BackwardMapper(layers.mesh.points, layers.mesh.triangles, layers.mesh.backdrop)
        self._folds = FoldShader(layers.pose.to_head_frame(layers.landmarks), layers.landmarks[:, :2] * self._factor, layers.skin,
                                 config.fold_shading)
        self._closings = prepare_closings(self._canvas, layers.landmarks[:, :2] * self._factor)
        self._interior = MouthInterior(self._canvas, layers.landmarks[:, :2] * self._factor)
        # (h, w, 2) the backward map of the last frame drawn, in working pixels (the evaluation
        # measures tears on it); None before the first.
        self.last_map: np.ndarray | None = None

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the frames `render` returns."""
        if self.config.paste_back:
            return self._photo.shape[:2]
        return self._final

    def warp_map(self, target: np.ndarray, pose: HeadPose) -> np.ndarray:
        """(h, w, 2) float32 backward map in working pixels for target landmarks (478, 3)."""
        moved, depth = self.layers.mesh.move(target, pose, self.layers.pose)
        step = self.config.map_step
        # An opening of the photo squeezed shut: the map jumps across the seam, so it is exact
        # there (resized, it would smear teeth and tongue over the lips, the white of the eye
        # over the lids; an opening under two grid steps smears nothing).
        exact = [_box(target[c.loop, :2], 2 * step) for c in self._closings
                 if c.gap > 2 * step * self._factor and openness(c, target * self._factor) < SQUEEZED]
        return self._mapper(moved, depth, self._working, step, exact if step > 1 else ())

    def render(
        self,
        target: np.ndarray,
        pose: HeadPose,
        driving: np.ndarray | None = None,
        driving_points: np.ndarray | None = None,
    ) -> np.ndarray:
        """One output frame.

        Args:
            target: (478, 3) target landmarks in working pixels.
            pose: target head pose in working pixels.
            driving: (H, W, 3) uint8 driving frame, for the mouth interior (optional).
            driving_points: (478, 3) its landmarks in its pixels.

        Returns:
            (H, W, 3) uint8 RGB frame of `output_size`.
        """
        head = pose.to_head_frame(target)
        unfolded = self._unfold(head)
        if unfolded is not head:
            target, head = pose.to_image(unfolded), unfolded
        warp = self.last_map = self.warp_map(target, pose)
        if self._factor != 1.0:
            h, w = self._canvas.shape[:2]
            warp = cv2.resize(warp, (w, h), interpolation=cv2.INTER_LINEAR)
            warp *= self._factor
        # Fixed-point maps (1/32 pixel) remap faster than float ones.
        layered = cv2.remap(self._layered, *cv2.convertMaps(warp, None, cv2.CV_16SC2), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.extractChannel(layered, 3).astype(np.float32)
        alpha *= np.float32(1 / 255)
        out = cv2.blendLinear(cv2.cvtColor(layered, cv2.COLOR_RGBA2RGB), self._plate, alpha, 1.0 - alpha)
        on_canvas = target[:, :2] * self._factor
        self._folds.shade(out, on_canvas, head, pose.scale * self._factor, warp)
        for closing in self._closings:
            draw_closed(out, warp, closing, on_canvas)
        if self.config.mouth_interior:
            points = None if driving_points is None else driving_points[:, :2]
            self._interior.draw(out, on_canvas, driving, points)
        return self._paste(out)

    def _paste(self, out: np.ndarray) -> np.ndarray:
        if not self.config.paste_back:
            if out.shape[:2] == self._final:
                return out
            return cv2.resize(out, self._final[::-1], interpolation=cv2.INTER_AREA)
        x0, y0, cw, ch = self._box
        frame = self._photo.copy()
        frame[y0: y0 + ch, x0: x0 + cw] = out
        return frame


SQUEEZED = 0.6  # an opening this much of the photo's own or less is mapped exactly around its seam


def _box(points: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box around (K, 2) points, `margin` pixels wider on each side."""
    lo = np.floor(points.min(0)).astype(int) - margin
    hi = np.ceil(points.max(0)).astype(int) + margin + 1
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _scaled_photo(photo: np.ndarray, crop, scale: float) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The photo at `scale` and the working crop's box in it: (x0, y0, width, height)."""
    if scale == 1.0:
        return photo, (crop.x0, crop.y0, crop.width, crop.height)
    h, w = photo.shape[:2]
    sh, sw = max(2, round(h * scale)), max(2, round(w * scale))
    small = cv2.resize(photo, (sw, sh), interpolation=cv2.INTER_AREA)
    cw, ch = max(1, min(sw, round(crop.width * scale))), max(1, min(sh, round(crop.height * scale)))
    x0, y0 = min(round(crop.x0 * scale), sw - cw), min(round(crop.y0 * scale), sh - ch)
    return small, (x0, y0, cw, ch)
