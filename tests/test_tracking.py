import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from facedyn.io import iter_frames, load_image
from facedyn.tracking import FaceTracker, LandmarkSmoother, OneEuroFilter
from facedyn.tracking import topology as T


def test_one_euro_smooths_noise_and_follows_steps():
    rng = np.random.default_rng(0)
    filt = OneEuroFilter(30, min_cutoff=1.0, beta=0.5)
    noisy = 1.0 + 0.01 * rng.standard_normal((120, 4, 3))
    out = np.array([filt(x) for x in noisy])
    assert out[30:].std() < 0.5 * noisy[30:].std()
    step = np.array([filt(np.full((4, 3), 3.0)) for _ in range(30)])
    assert np.abs(step[-1] - 3.0).max() < 0.05  # catches up with a large, fast move


def test_topology_loops_match_mediapipe_connections():
    from mediapipe.python.solutions import face_mesh_connections as fmc

    def vertices(conn):
        return {i for edge in conn for i in edge}

    assert set(T.RIGHT_EYE_LOOP) == vertices(fmc.FACEMESH_RIGHT_EYE)
    assert set(T.LEFT_EYE_LOOP) == vertices(fmc.FACEMESH_LEFT_EYE)
    assert set(T.FACE_OVAL) == vertices(fmc.FACEMESH_FACE_OVAL)
    lips = set(T.LIPS_OUTER_UPPER) | set(T.LIPS_OUTER_LOWER) | set(T.LIPS_INNER_UPPER) | set(T.LIPS_INNER_LOWER)
    assert lips == vertices(fmc.FACEMESH_LIPS)


@pytest.fixture(scope="module")
def tracker():
    with FaceTracker() as t:
        yield t


def test_photo_landmarks_and_openings(tracker, image_path):
    for name, mouth_open in (("woman_open_mouth_surprised", True), ("woman_frontal_neutral", False)):
        img = load_image(image_path(name))
        boxes = tracker.detect_faces(img)
        assert len(boxes) == 1
        pts = tracker.landmarks_in_box(img, boxes[0])
        assert pts.shape == (478, 3)
        assert (T.mouth_opening(pts) > 0.3) == mouth_open
        assert (T.eye_opening(pts) > 0.15).all()


def test_small_face_in_large_photo_is_found(tracker, image_path):
    img = load_image(image_path("woman_frontal_neutral"))
    canvas = np.full((2000, 2400, 3), 128, np.uint8)
    small = img[::3, ::3]  # face about 60 pixels in a 2400-pixel photo
    canvas[900: 900 + small.shape[0], 1500: 1500 + small.shape[1]] = small
    boxes = tracker.detect_faces(canvas)
    assert len(boxes) == 1
    pts = tracker.landmarks_in_box(canvas, boxes[0])
    assert 1500 < pts[T.NOSE_TIP, 0] < 1500 + small.shape[1]


def test_video_tracking_sees_blinks(tracker, video_path):
    tracker.reset_video()
    pts = [tracker.track(f) for f in iter_frames(video_path("woman_blinks_gaze_squint"))]
    assert all(p is not None for p in pts)
    eyes = T.eye_opening(np.array(pts)).mean(axis=1)
    assert eyes.min() < 0.08 < 0.2 < np.median(eyes)  # closed blinks, open otherwise


def test_smoother_keeps_a_three_frame_blink_and_removes_jitter(image_path):
    """A blink lasting three frames at 25 fps keeps its depth through the smoother (the
    position filter alone took much of it), while the jitter of still landmarks goes."""
    image = load_image(image_path("woman_frontal_neutral"))
    with FaceTracker() as tracker:
        face = tracker.landmarks_in_box(image, tracker.detect_faces(image)[0])
    rng = np.random.default_rng(3)
    depth = np.zeros(60)
    depth[30:33] = [0.6, 1.0, 0.6]  # share of the lid gap closed
    frames = []
    for d in depth:
        shut = face.copy()
        for pairs in (T.RIGHT_EYE_PAIRS, T.LEFT_EYE_PAIRS):
            gap = shut[pairs[:, 1], 1] - shut[pairs[:, 0], 1]
            shut[pairs[:, 0], 1] += 0.8 * d * gap
            shut[pairs[:, 1], 1] -= 0.2 * d * gap
        frames.append(shut + 0.002 * T.face_size(face) * rng.standard_normal(face.shape))
    frames = np.array(frames)
    unit = float(T.face_size(face))
    smoother, plain = LandmarkSmoother(25), OneEuroFilter(25, min_cutoff=1.5, beta=20.0, d_cutoff=1.0)
    smoothed = np.array([smoother(f) for f in frames])
    positions_only = np.array([plain(f / unit) * unit for f in frames])
    rest = T.eye_opening(face).mean()
    raw, kept, eaten = (T.eye_opening(x[31]).mean() / rest for x in (frames, smoothed, positions_only))
    assert kept < raw + 0.05 and eaten > raw + 0.08, (raw, kept, eaten)
    still = slice(5, 25)
    assert smoothed[still, 1].std(0).mean() < 0.5 * frames[still, 1].std(0).mean()  # the nose tip: jitter goes


def test_mediapipe_loads_without_its_drawing_helpers_until_they_are_used():
    """Its drawing helpers import matplotlib (half a second to the first frame): deferred,
    and still whole for whoever uses them."""
    code = (
        "import sys\n"
        "from facedyn.tracking.facemesh import mediapipe_solutions\n"
        "solutions = mediapipe_solutions()\n"
        "assert solutions.face_mesh.FaceMesh is not None\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "from mediapipe.python.solutions import drawing_utils\n"
        "assert solutions.drawing_utils is drawing_utils\n"
        "assert solutions.drawing_styles.get_default_face_mesh_contours_style()\n"
        "assert drawing_utils.DrawingSpec(color=(1, 2, 3)).color == (1, 2, 3)\n"
        "assert 'matplotlib' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_tracker_used_from_two_threads_runs_one_graph_call_at_a_time():
    """animate tracks on a worker thread; MediaPipe's graphs must never be entered twice at once."""
    inside, most = [0], [0]

    class SlowGraph:
        def process(self, frame):
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.01)
            inside[0] -= 1
            return type("Result", (), {"multi_face_landmarks": None})()

        def close(self):
            pass

    with FaceTracker() as tracker:
        tracker._video = SlowGraph()
        frame = np.zeros((64, 64, 3), np.uint8)
        threads = [threading.Thread(target=lambda: [tracker.track(frame) for _ in range(5)]) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert most[0] == 1
