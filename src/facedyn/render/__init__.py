"""Drawing frames: source layers, control mesh, backward-map warp, mouth interior, compositing."""

from facedyn.render.layers import SourceLayers, prepare_layers
from facedyn.render.renderer import RenderConfig, Renderer

__all__ = ["RenderConfig", "Renderer", "SourceLayers", "prepare_layers"]
