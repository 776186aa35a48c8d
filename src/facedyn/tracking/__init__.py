"""Face landmarks: MediaPipe face mesh, mesh topology, temporal smoothing."""

from facedyn.tracking import topology
from facedyn.tracking.facemesh import FaceBox, FaceTracker
from facedyn.tracking.smoothing import LandmarkSmoother, OneEuroFilter

__all__ = ["FaceBox", "FaceTracker", "LandmarkSmoother", "OneEuroFilter", "topology"]
