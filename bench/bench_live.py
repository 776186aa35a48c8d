"""Live streaming on loopback: latency, loss and a flood of garbage (issue 14's figures).

A `facedyn send` process plays a test video as a real-time camera (looped), tracks it and
sends codec packets to a receiver in this process, which renders every frame at working size
512 (as `facedyn receive` does, no window). Three parts:

1. latency: capture (sender's clock) to frame out (rendered here), p50/p95 over the run and
   over its first and last minute;
2. loss: a relay drops 10% of datagrams at random (then 3% with reordering); the receiver's
   longest freeze (frames without a new one) against the key interval, and the correlation
   of the lip gap it shows with the lossless stream (every datagram decoded, same run);
3. flood: 10^5 garbage datagrams a second for 30 s (random bytes, forged MACs, replays of
   the stream's own datagrams) at the receiver: its RSS and CPU, and the fps it still renders.

    .venv/bin/python bench/bench_live.py [--minutes 5] [--loss-seconds 60] [--flood-seconds 30]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TESTDATA = Path(os.environ.get("FACEDYN_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))
PHOTO = TESTDATA / "images" / "woman_frontal_neutral.jpg"
VIDEO = TESTDATA / "videos" / "man_speaking_outdoors.mp4"
FACEDYN = Path(sys.executable).with_name("facedyn")


class Relay:
    """UDP relay in front of the receiver: feeds every datagram to a lossless LinkState, then
    drops `loss` of them and holds `reorder` of them back behind the next one."""

    def __init__(self, target, key: bytes, loss: float, reorder: float = 0.0, keep: int = 0, seed: int = 1) -> None:
        from facedyn import live

        self.target, self.loss, self.reorder = target, loss, reorder
        self.lossless = live.LinkState(key)
        self.lossless_frames = []
        self.kept: list[bytes] = []  # the first `keep` datagrams, for replaying
        self._keep = keep
        self._rng = random.Random(seed)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.address = self._socket.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        held = None
        while not self._stop.is_set():
            try:
                data = self._socket.recv(2048)
            except OSError:
                continue
            self.lossless_frames += self.lossless.accept(data)
            if len(self.kept) < self._keep:
                self.kept.append(data)
            if self._rng.random() < self.loss:
                continue
            if held is None and self._rng.random() < self.reorder:
                held = data
                continue
            self._out.sendto(data, self.target)
            if held is not None:
                self._out.sendto(held, self.target)
                held = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


def flood(target, replays: list[bytes], rate: float, seconds: float, sent) -> None:
    """Send `rate` garbage datagrams a second for `seconds`: a third random bytes, a third
    forged (right shape, wrong MAC), a third replays of real datagrams."""
    from facedyn.live import wire

    rng = random.Random(7)
    garbage = [os.urandom(rng.randrange(1, 1400)) for _ in range(300)]
    session = time.time_ns() // 1000
    forged = [wire.seal(os.urandom(32), wire.Datagram(session + k, k, time.time_ns() // 1000, True, os.urandom(60)))
              for k in range(300)]
    batch = [d for triple in zip(garbage, forged, (replays * 300)[:300], strict=True) for d in triple]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    start, count = time.time(), 0
    while time.time() - start < seconds:
        for data in batch:
            try:
                sock.sendto(data, target)
            except BlockingIOError:
                pass
        count += len(batch)
        ahead = count / rate - (time.time() - start)
        if ahead > 0:
            time.sleep(ahead)
    sent.value = count


class Shown:
    """A sink that notes when each frame went out."""

    wants_stop = False

    def __init__(self) -> None:
        self.times: list[float] = []

    def start(self, fps, size) -> None:
        pass

    def show(self, frame, index) -> None:
        self.times.append(time.time())

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream(anim, source, seconds: float, key_file: Path, key: bytes, relay_args=None, flood_args=None,
           sender_args: tuple[str, ...] = ()) -> dict:
    """One run: a sender process for `seconds`, this process receiving and rendering."""
    from facedyn import live

    receiver = live.StreamReceiver(key, ("127.0.0.1", 0))
    relay = Relay(receiver.address, key, **relay_args) if relay_args else None
    target = relay.address if relay else receiver.address
    shown = Shown()
    player = live.Player(anim, source, [shown])
    player.prepare_parametric()
    received = []
    sender = subprocess.Popen([str(FACEDYN), "-q", "send", "--camera", str(VIDEO), "--realtime", "--loop",
                               "--duration", str(seconds), "--to", f"{target[0]}:{target[1]}", "--key", str(key_file),
                               *sender_args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples, flooder, sent = [], None, multiprocessing.Value("q", 0)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            usage = resource.getrusage(resource.RUSAGE_SELF)
            samples.append((time.time(), rss_mb(), usage.ru_utime + usage.ru_stime))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if flood_args:
        def start_flood() -> None:
            nonlocal flooder
            time.sleep(flood_args["after"])
            replays = relay.kept if relay else []
            flooder = multiprocessing.Process(target=flood, args=(receiver.address, replays or [b"x"], flood_args["rate"],
                                                                  flood_args["seconds"], sent))
            flood_args["start"] = time.time()
            flooder.start()
        threading.Thread(target=start_flood, daemon=True).start()
    report = live.run_receiver(player, receiver, duration=seconds + 4, on_received=received.extend)
    sender.wait(timeout=60)
    stop.set()
    if flooder is not None:
        flooder.join(timeout=60)
    receiver.close()
    if relay:
        relay.close()
    return {"report": report, "received": received, "shown": shown.times, "samples": samples, "stats": receiver.stats,
            "relay": relay, "flood_sent": sent.value, "flood": flood_args}


def latency_part(result: dict, minutes: float) -> list[str]:
    lat = np.array(result["report"].latencies) * 1000
    minute = max(1, int(len(lat) / minutes))
    first, last = lat[:minute], lat[-minute:]
    fps = len(result["shown"]) / (result["shown"][-1] - result["shown"][0])
    return ["| run | frames | fps shown | p50 ms | p95 ms | first minute p50 / p95 | last minute p50 / p95 |",
            "|---|---|---|---|---|---|---|",
            f"| {minutes:g} min, 512 | {len(lat)} | {fps:.1f} | {np.percentile(lat, 50):.1f} | {np.percentile(lat, 95):.1f} | "
            f"{np.percentile(first, 50):.1f} / {np.percentile(first, 95):.1f} | "
            f"{np.percentile(last, 50):.1f} / {np.percentile(last, 95):.1f} |"]


def loss_row(name: str, result: dict, key_frames: int) -> str:
    from facedyn.drivers.parametric import PARAMETERS
    gap = PARAMETERS.index("lipGap")
    got = {f.index: f.values for f in result["received"]}
    truth = {f.index: f.values for f in result["relay"].lossless_frames}
    indices = sorted(truth)
    shown, last, freeze, longest = [], None, 0, 0
    for k in indices:
        if k in got:
            last, freeze = got[k], 0
        else:
            freeze += 1
            longest = max(longest, freeze)
        shown.append(np.nan if last is None else last[gap])
    shown, lossless = np.array(shown), np.array([truth[k][gap] for k in indices])
    ok = np.isfinite(shown)
    r = float(np.corrcoef(shown[ok], lossless[ok])[0, 1])
    stats = result["stats"]
    lost = 1 - len(got) / max(len(truth), 1)
    return (f"| {name} | {len(truth)} | {100 * lost:.1f}% | {longest} ({longest / 25:.2f} s) | {key_frames} | {r:.3f} | "
            f"{stats.dropped['late']} |")


def _cpu(samples: list) -> float:
    """Percent of one core the process used over the samples."""
    if len(samples) < 2:
        return float("nan")
    return (samples[-1][2] - samples[0][2]) / (samples[-1][0] - samples[0][0]) * 100


def flood_part(result: dict) -> list[str]:
    start = result["flood"]["start"]
    end = start + result["flood"]["seconds"]
    times = np.array(result["shown"])
    during = times[(times >= start + 1) & (times < end)]
    fps = (len(during) - 1) / (during[-1] - during[0]) if len(during) > 1 else 0.0
    lat = np.array(result["report"].latencies)[(times >= start + 1) & (times < end)] * 1000
    before = [s for s in result["samples"] if s[0] < start]
    inside = [s for s in result["samples"] if start <= s[0] < end]
    after = [s for s in result["samples"] if s[0] >= end + 1]
    stats = result["stats"]
    return ["| flood sent | rate /s | RSS before / max during / after MB | receiver CPU % before / during | "
            "fps shown during | latency p50 / p95 ms during | dropped (malformed / unauthenticated / replayed / "
            "older session) |",
            "|---|---|---|---|---|---|---|",
            f"| {result['flood_sent']} | {result['flood_sent'] / result['flood']['seconds']:.0f} | "
            f"{max(s[1] for s in before):.0f} / {max(s[1] for s in inside):.0f} / "
            f"{max((s[1] for s in after), default=float('nan')):.0f} | {_cpu(before):.0f} / {_cpu(inside):.0f} | "
            f"{fps:.1f} | {np.percentile(lat, 50):.1f} / {np.percentile(lat, 95):.1f} | "
            f"{stats.dropped['malformed']} / {stats.dropped['unauthenticated']} / {stats.dropped['replayed']} / "
            f"{stats.dropped['older_session']} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--loss-seconds", type=float, default=60.0)
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--flood-rate", type=float, default=1e5)
    parser.add_argument("--paste-back", action="store_true", help="render into the whole photo, not the face crop")
    parser.add_argument("--parts", default="latency,loss,flood")
    args = parser.parse_args()
    from facedyn import Animator, AnimatorConfig, RenderConfig, live
    from facedyn.tracking.facemesh import silence_native_logs

    silence_native_logs()
    parts = args.parts.split(",")
    key = secrets.token_bytes(32)
    folder = tempfile.TemporaryDirectory()
    key_file = Path(folder.name) / "key.txt"
    key_file.write_text(key.hex())
    os.chmod(key_file, 0o600)
    config = AnimatorConfig(size=512, render=RenderConfig(paste_back=args.paste_back))
    key_frames = live.LinkConfig().codec().key_seconds * 25
    lines = [f"photo {PHOTO.name}, camera {VIDEO.name} (real time, looped), working size 512, "
             f"{'whole photo' if args.paste_back else 'face crop'}, {os.cpu_count()} cores", ""]
    with Animator(config) as anim:
        source = anim.load_source(PHOTO)
        if "latency" in parts:
            lines += latency_part(stream(anim, source, 60 * args.minutes, key_file, key), args.minutes) + [""]
            print("\n".join(lines), flush=True)
        if "loss" in parts:
            lines += ["| loss | frames | frames lost after redundancy | longest freeze (frames) | key interval (frames) | "
                      "lip gap r to lossless | late datagrams |", "|---|---|---|---|---|---|---|"]
            for name, relay, sender_args in (("10% random", {"loss": 0.10}, ()),
                                             ("10% random, no redundancy", {"loss": 0.10}, ("--redundancy", "0")),
                                             ("3% + 3% reordered", {"loss": 0.03, "reorder": 0.03}, ())):
                result = stream(anim, source, args.loss_seconds, key_file, key, relay_args=relay, sender_args=sender_args)
                lines.append(loss_row(name, result, int(key_frames)))
                print(lines[-1], flush=True)
            lines.append("")
        if "flood" in parts:
            flood_args = {"after": 5.0, "seconds": args.flood_seconds, "rate": args.flood_rate}
            result = stream(anim, source, args.flood_seconds + 10, key_file, key, relay_args={"loss": 0.0, "keep": 300},
                            flood_args=flood_args)
            lines += flood_part(result)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
