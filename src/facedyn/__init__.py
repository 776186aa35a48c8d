"""facedyn: animate one face photo from 3D facial dynamics, on a CPU, offline."""

from facedyn import drivers
from facedyn.animator import Animation, Animator, AnimatorConfig, Source
from facedyn.dynamics import FaceDynamics
from facedyn.errors import FacedynError, InputError, NoFaceError
from facedyn.geometry.retarget import RetargetConfig
from facedyn.render import RenderConfig

__all__ = [
    "Animation", "Animator", "AnimatorConfig", "FaceDynamics", "FacedynError", "InputError",
    "NoFaceError", "RenderConfig", "RetargetConfig", "Source", "drivers",
]
__version__ = "0.1.0"
