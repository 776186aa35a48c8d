"""The blendshape rig: 52 ARKit blendshapes on the face mesh, and the solver between mesh
offsets and coefficients.

    from facedyn.rig import Rig
    rig = Rig()
    offsets = rig.apply({"jawOpen": 0.7, "mouthSmileLeft": 0.4})   # (478, 3)
    coefficients = rig.solve(offsets)                                # (52,) in 0..1
"""

from facedyn.rig.blendshapes import BLENDSHAPES, build_basis
from facedyn.rig.solver import Rig

__all__ = ["BLENDSHAPES", "Rig", "build_basis"]
