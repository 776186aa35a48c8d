"""Face landmarks: MediaPipe face mesh, mesh topology, temporal smoothing."""

from facedyn.tracking import topology
from facedyn.tracking.facemesh import FaceBox, FaceTracker
from facedyn.tracking.smoothing import OneEuroFilter

__all__ = ["FaceBox", "FaceTracker", "OneEuroFilter", "topology"]
