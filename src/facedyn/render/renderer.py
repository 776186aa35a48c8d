"""Per-frame rendering: move the control mesh, rasterise one backward map, remap, composite."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facedyn.geometry.folds import unfold
from facedyn.geometry.pose import HeadPose
from facedyn.render import mouth
from facedyn.render.layers import SourceLayers, skin_colour
from facedyn.render.rasterize import backward_map
from facedyn.render.shading import FoldShader
from facedyn.tracking import topology as T


@dataclass(frozen=True)
class RenderConfig:
    """How frames are drawn."""

    paste_back: bool = True  # True: the full photo at its own resolution; False: the working crop
    map_step: int = 3  # backward map grid step in working pixels (1 exact .. 4 fastest)
    mouth_interior: bool = True  # fill an opening mouth: from the driving frame, else synthesised
    fold_shading: float = 1.0  # 0..1: darken skin the motion compresses, as a fold's shadow would


class Renderer:
    """Draws frames of one source for target meshes.

    Args:
        layers: the prepared source.
        config: drawing options.
    """

    def __init__(self, layers: SourceLayers, config: RenderConfig = RenderConfig()) -> None:
        self.layers, self.config = layers, config
        self._source_opening = float(T.mouth_opening(layers.landmarks))
        self._interior = mouth.interior_colours(layers.image, layers.landmarks)
        h, w = layers.image.shape[:2]
        self._working = (h, w)
        crop = layers.crop
        if config.paste_back:
            patch = layers.photo[crop.y0: crop.y0 + crop.height, crop.x0: crop.x0 + crop.width]
            self._canvas = np.ascontiguousarray(patch)
            size = (crop.width, crop.height)
            self._mask = cv2.resize(layers.mask, size, interpolation=cv2.INTER_LINEAR)
            self._plate = cv2.resize(layers.plate, size, interpolation=cv2.INTER_LINEAR)
            self._factor = 1.0 / crop.scale
        else:
            self._canvas, self._mask, self._plate, self._factor = layers.image, layers.mask, layers.plate, 1.0
        self._rest_head = layers.pose.to_head_frame(layers.landmarks)
        self._folds = FoldShader(self._rest_head, layers.landmarks[:, :2] * self._factor, layers.skin,
                                 config.fold_shading)

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the frames `render` returns."""
        if self.config.paste_back:
            return self.layers.photo.shape[:2]
        return self._working

    def warp_map(self, target: np.ndarray, pose: HeadPose) -> np.ndarray:
        """(h, w, 2) float32 backward map in working pixels for target landmarks (478, 3)."""
        mesh = self.layers.mesh
        moved, depth = mesh.move(target, pose, self.layers.pose)
        return backward_map(moved, mesh.points, mesh.triangles, depth, self._working, self.config.map_step)

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
        # A motion that is fold-free on the rig's template can still turn this face's own
        # triangles over (a thin nose wing under a sneer): smooth that out before drawing.
        head = pose.to_head_frame(target)
        unfolded = unfold(head, self._rest_head)
        if unfolded is not head:
            target, head = pose.to_image(unfolded), unfolded
        warp = self.warp_map(target, pose)
        if self._factor != 1.0:
            h, w = self._canvas.shape[:2]
            warp = cv2.resize(warp, (w, h), interpolation=cv2.INTER_LINEAR)
            warp *= self._factor
        person = cv2.remap(self._canvas, warp, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(self._mask, warp, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        out = cv2.blendLinear(person, self._plate, alpha, 1.0 - alpha)
        self._folds.shade(out, target[:, :2] * self._factor, head, pose.scale * self._factor, warp)
        if self.config.mouth_interior:
            self._fill_mouth(out, target, driving, driving_points)
        return self._paste(out)

    def _fill_mouth(self, out: np.ndarray, target: np.ndarray, driving: np.ndarray | None,
                    driving_points: np.ndarray | None) -> None:
        a = mouth.interior_alpha(target, self._source_opening)
        if a <= 0.0:
            return
        if driving is None or driving_points is None:
            mouth.synthesize_interior(out, target[:, :2] * self._factor, self._interior, a)
            return
        gain = np.clip(self.layers.skin / np.maximum(skin_colour(driving, driving_points), 1.0), 0.6, 1.6)
        mouth.paste_interior(out, target[:, :2] * self._factor, driving, driving_points, gain, a)

    def _paste(self, out: np.ndarray) -> np.ndarray:
        if not self.config.paste_back:
            return out
        crop = self.layers.crop
        frame = self.layers.photo.copy()
        frame[crop.y0: crop.y0 + crop.height, crop.x0: crop.x0 + crop.width] = out
        return frame
