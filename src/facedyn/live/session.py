"""Live loops: a camera, Live Link Face or a remote sender drives a photo, frame by frame,
into sinks; or a camera's dynamics go to a remote receiver.

Latency never grows: a source that runs ahead of the renderer has its older frames skipped
(counted), never queued.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from facedyn.animator import Animation, Animator, Source
from facedyn.drivers.parametric import Describer, dynamics_from_row, neutral_dynamics
from facedyn.dynamics import DrivingFrame, FaceDynamics, Motion, dynamics_from_landmarks
from facedyn.geometry import regions
from facedyn.live.camera import Camera
from facedyn.live.livelink import LiveLinkReceiver
from facedyn.live.sinks import Sink
from facedyn.live.transport import ReceivedFrame, StreamReceiver, StreamSender
from facedyn.tracking import FaceTracker, LandmarkSmoother

MAX_LATENCIES = 100_000  # latency samples kept by a report (over an hour at 25 fps)


@dataclass
class LiveReport:
    """What a live run did. latencies: seconds from capture to frame out, per frame shown."""

    frames: int = 0
    skipped: int = 0  # frames that arrived while a newer one was waiting: not rendered
    no_face: int = 0  # camera frames without a face (the last face held)
    seconds: float = 0.0
    latencies: deque = field(default_factory=lambda: deque(maxlen=MAX_LATENCIES))

    def summary(self) -> str:
        text = f"{self.frames} frames in {self.seconds:.1f} s"
        if self.latencies:
            p50, p95 = np.percentile(np.array(self.latencies), [50, 95]) * 1000
            text += f", latency p50 {p50:.0f} ms, p95 {p95:.0f} ms"
        extra = [f"{n} {what}" for n, what in ((self.skipped, "skipped behind newer ones"),
                                               (self.no_face, "without a face")) if n]
        return text + (f" ({', '.join(extra)})" if extra else "")


class FaceFollower:
    """Camera frames to driving frames, causally: tracked, smoothed (One-Euro), relative to
    the first face seen (its pose and expression mean "no change"); where the face is lost
    the last one is held.

    Args:
        tracker: a FaceTracker (its video graph is reset here).
        fps: the camera's frame rate.
        smoothing: One-Euro filtering of the landmarks.
    """

    def __init__(self, tracker: FaceTracker, fps: float, smoothing: bool = True) -> None:
        tracker.reset_video()
        self._tracker = tracker
        self._smoother = LandmarkSmoother(float(fps)) if smoothing else None
        self.reference: FaceDynamics | None = None
        self._reference_pose = None
        self._last: np.ndarray | None = None
        self.missing = 0

    def __call__(self, image: np.ndarray) -> DrivingFrame | None:
        """The driving frame of (H, W, 3) uint8 RGB `image`, or None before the first face."""
        points = self._tracker.track(image)
        if points is None:
            self.missing += 1
            points = self._last
            if points is None:
                return None
        elif self._smoother is not None:
            points = self._smoother(points)
        if self.reference is None:
            self.reference, self._reference_pose = dynamics_from_landmarks(points)
        self._last = points
        return DrivingFrame(dynamics_from_landmarks(points, self._reference_pose)[0], image, points)


class Player:
    """Renders driving frames of one photo into sinks, measuring latency.

    Args:
        animator: the Animator that loaded `source`.
        source: the photo.
        sinks: where frames go; each is started when the first frame's size is known.
    """

    def __init__(self, animator: Animator, source: Source, sinks: list[Sink]) -> None:
        self._animator, self._source, self.sinks = animator, source, sinks
        self.animation: Animation | None = None
        self.fps: Fraction | None = None  # set by start()
        self.report = LiveReport()
        self._started = time.time()

    def prepare(self, reference: FaceDynamics, closed_gap: float = 0.0, fps: float | Fraction = 25) -> None:
        """Set up the renderer for a driver whose `reference` means "no change" (slow: do it
        before frames come where it can be done)."""
        motion = Motion(reference, iter(()), Fraction(fps).limit_denominator(1001), closed_gap=closed_gap)
        self.animation = Animation(self._source, motion, self._animator.config)

    def prepare_parametric(self) -> None:
        """For drivers of PARAMETERS values (a stream, Live Link Face): the rig's neutral face."""
        neutral = neutral_dynamics()
        self.prepare(neutral, regions.mouth_gap(neutral.shape))

    def start(self, fps: float | Fraction) -> None:
        """Start the sinks, now that the stream's frame rate is known."""
        self.fps = Fraction(fps).limit_denominator(1001)
        for sink in self.sinks:
            sink.start(self.fps, self.animation.frame_size)

    def show(self, driving: DrivingFrame, index: int, capture_time: float) -> None:
        frame = self.animation.render(driving)
        for sink in self.sinks:
            sink.show(frame, index)
        self.report.latencies.append(time.time() - capture_time)
        self.report.frames += 1

    def tick(self) -> None:
        for sink in self.sinks:
            sink.tick()

    @property
    def wants_stop(self) -> bool:
        return any(sink.wants_stop for sink in self.sinks)

    def finish(self) -> LiveReport:
        self.report.seconds = time.time() - self._started
        return self.report

    def close(self) -> None:
        """Close every sink (a recording is published), even when one fails."""
        errors = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # the others must still close
                errors.append(exc)
        if errors:
            raise errors[0]


def _deadline(duration: float | None) -> float:
    return time.time() + duration if duration else float("inf")


def run_camera(player: Player | None, tracker: FaceTracker, camera: Camera, sender: StreamSender | None = None,
               smoothing: bool = True, duration: float | None = None,
               progress: Callable[[int], None] | None = None) -> LiveReport:
    """A camera drives the photo (`player`) and/or a remote receiver (`sender`) until the
    camera ends, `duration` seconds pass or a sink asks to stop. Without a player nothing is
    rendered here, and latency is measured to the datagram sent."""
    follower = FaceFollower(tracker, float(camera.fps), smoothing)
    report = player.report if player is not None else LiveReport()
    describe: Describer | None = None
    first_face, end, started = True, _deadline(duration), time.time()
    for captured in camera:
        driving = follower(captured.image)
        if driving is None:
            if player is not None:
                player.tick()
        else:
            if first_face:  # it means "no change"
                first_face = False
                describe = Describer(follower.reference) if sender is not None else None
                if player is not None:
                    player.prepare(follower.reference, fps=camera.fps)
                    player.start(camera.fps)
            if sender is not None:
                sender.send(describe(driving.dynamics), captured.capture_time)
            if player is not None:
                player.show(driving, captured.index, captured.capture_time)
            else:
                report.latencies.append(time.time() - captured.capture_time)
                report.frames += 1
            if progress:
                progress(report.frames)
        if (player is not None and player.wants_stop) or time.time() > end:
            break
    report.skipped, report.no_face, report.seconds = camera.dropped, follower.missing, time.time() - started
    return report


LATE_SECONDS = 0.1  # a frame captured longer ago than this is skipped when a newer one waits


def _in_time(frames: list, report: LiveReport) -> list:
    """The frames worth rendering of those that arrived together: the newest, and any other
    captured within LATE_SECONDS (so latency stays bounded: older ones are skipped)."""
    now = time.time()
    keep = [f for f in frames[:-1] if now - f.capture_time <= LATE_SECONDS] + frames[-1:]
    report.skipped += len(frames) - len(keep)
    return keep


def run_receiver(player: Player, receiver: StreamReceiver, duration: float | None = None,
                 on_received: Callable[[list[ReceivedFrame]], None] | None = None) -> LiveReport:
    """A remote sender's stream drives the photo; the picture holds while packets are lost.

    on_received: called with every batch of decoded frames, before any is skipped.
    """
    return _run_values(player, receiver, duration, on_received, lambda: receiver.state.fps)


def run_livelink(player: Player, receiver: LiveLinkReceiver, duration: float | None = None) -> LiveReport:
    """Live Link Face drives the photo (frames numbered by arrival)."""
    return _run_values(player, receiver, duration, None, lambda: None)


def _run_values(player: Player, receiver, duration: float | None, on_received, stream_fps) -> LiveReport:
    """Frames with .index, .capture_time and .values (PARAMETERS) from `receiver.take()`."""
    end = _deadline(duration)
    if player.animation is None:
        player.prepare_parametric()
    period = 0.04
    while not player.wants_stop and time.time() < end:
        frames = receiver.take(timeout=period)
        if on_received is not None and frames:
            on_received(frames)
        if not frames:
            player.tick()
            continue
        if player.fps is None:
            player.start(stream_fps() or getattr(frames[-1], "fps", None) or 25)
            period = 1.0 / float(player.fps)
        for frame in _in_time(frames, player.report):
            player.show(DrivingFrame(dynamics_from_row(frame.values)), frame.index, frame.capture_time)
    return player.finish()


def played(frames: Iterable[ReceivedFrame]) -> np.ndarray:
    """(N, len(PARAMETERS)) the values of received frames in index order, each lost index
    holding the last received values (what a receiver shows)."""
    frames = sorted(frames, key=lambda f: f.index)
    if not frames:
        return np.zeros((0, 0))
    out, last = [], None
    for frame in frames:
        if last is not None:
            out += [last.values] * (frame.index - last.index - 1)
        out.append(frame.values)
        last = frame
    return np.array(out)
