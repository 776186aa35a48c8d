"""The web app's page: Gradio Blocks over a Studio. Each tab builds a driver spec and options,
the Studio does the work; every error reaches the page as the CLI's one line."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from facedyn.errors import InputError, error_line
from facedyn.jobs import JobOptions
from facedyn.rig.expressions import EXPRESSIONS
from facedyn.ui.studio import Studio

SIZES = (256, 384, 512, 768, 1024)
INTRO = ("# facedyn\nAnimate one face photo on this computer's CPU: nothing is uploaded anywhere. "
         "Pick a tab, press its button; the first frame shows at once, the video when it is done.")


def build_app(studio: Studio):
    """The app's gr.Blocks (not launched). Imports Gradio, so the caller decides when."""
    import gradio as gr

    with gr.Blocks(title="facedyn", analytics_enabled=False) as app:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(value=str(studio.example_photo()), type="filepath", label="Photo (one face)",
                                 sources=["upload", "webcam", "clipboard"], elem_id="photo")
                common = _output_controls(gr)
            with gr.Column(scale=2), gr.Tabs(selected="express"):
                runs = _tabs(gr, studio, photo)
            with gr.Column(scale=2):
                preview = gr.Image(label="First frame", interactive=False, elem_id="preview")
                result = gr.Video(label="Result", interactive=False, buttons=["download"], elem_id="result")
                status = gr.Markdown(elem_id="status")
        for button, inputs, make_spec in runs:
            button.click(_render_handler(studio, make_spec), [photo, *common, *inputs], [preview, result, status],
                         concurrency_id="facedyn", preprocess=False)
    return app


def _output_controls(gr) -> list:
    """Size, paste-back, side by side and extra head rotation: every tab's output options."""
    with gr.Accordion("Output and head rotation", open=False):
        size = gr.Dropdown(list(SIZES), value=512, label="Working size (pixels)")
        paste = gr.Checkbox(True, label="Paste back into the whole photo")
        side = gr.Checkbox(False, label="Side by side (driver | photo | result)", elem_id="side-by-side")
        yaw = gr.Slider(-45, 45, 0, step=1, label="Extra yaw (degrees)")
        pitch = gr.Slider(-30, 30, 0, step=1, label="Extra pitch (degrees)")
        roll = gr.Slider(-30, 30, 0, step=1, label="Extra roll (degrees)")
    return [size, paste, side, yaw, pitch, roll]


def _tabs(gr, studio: Studio, photo) -> list:
    """The tabs; returns (button, inputs, make_spec) for each render button, where
    make_spec(*values) -> (driver spec, {option: value})."""
    runs = []
    with gr.Tab("Animate", id="animate"):
        video = gr.Video(label="Driving video (upload or record)", sources=["upload", "webcam"], elem_id="driving")
        mode = gr.Radio(["hybrid", "relative", "absolute"], value="hybrid", label="Mode")
        reference = gr.Dropdown(["first", "auto"], value="first", allow_custom_value=True,
                                label="Reference frame (no change): first, auto or a frame number")
        scales = [gr.Slider(0, 3, 1, step=0.05, label=label)
                  for label in ("Head pose", "Expression", "Eyes", "Brows", "Mouth")]
        audio = gr.Checkbox(True, label="Keep the driving video's sound")
        button = gr.Button("Animate", variant="primary", elem_id="run-animate")
        runs.append((button, [video, mode, reference, *scales, audio], _animate_spec))
    with gr.Tab("Express", id="express"):
        label = gr.Dropdown(list(EXPRESSIONS), value="smile", label="Expression", elem_id="expression")
        duration = gr.Slider(0.5, 10, 2, step=0.1, label="Length (seconds)")
        intensity = gr.Slider(0, 1.5, 1, step=0.05, label="Intensity")
        timeline = gr.Textbox(label="Or a timeline (overrides the above)", placeholder="surprise@0-1.2s, smile:0.6@1.5-3s")
        hold = gr.Checkbox(False, label="Hold the expression to the end")
        button = gr.Button("Express", variant="primary", elem_id="run-express")
        runs.append((button, [label, duration, intensity, timeline, hold], _express_spec))
    with gr.Tab("Imagine", id="imagine"):
        seconds = gr.Slider(1, 30, 6, step=0.5, label="Length (seconds)")
        seed = gr.Number(0, precision=0, minimum=0, label="Seed (the same seed, the same motion)")
        style = gr.Radio(["calm", "lively"], value="calm", label="Style")
        button = gr.Button("Imagine", variant="primary", elem_id="run-imagine")
        runs.append((button, [seconds, seed, style], _imagine_spec))
    with gr.Tab("Motion", id="motion"):
        gr.Markdown("A motion file (facedyn .json/.csv, ARKit / Live Link Face CSV) or landmarks "
                    "(68-point .txt/.pts/.npy/.npz, OpenFace CSV).")
        motion = gr.File(label="Motion or landmark file", type="filepath", elem_id="motion-file")
        fps = gr.Number(0, minimum=0, maximum=120, label="Frame rate of a landmark file (0: the file's own, else 25)")
        button = gr.Button("Animate with the file", variant="primary", elem_id="run-motion")
        runs.append((button, [motion, fps], _motion_spec))
    with gr.Tab("Codec", id="codec"):
        runs.append(_codec_tab(gr, studio))
    return runs


def _codec_tab(gr, studio: Studio):
    gr.Markdown("Encode a clip's facial dynamics into a stream of a few hundred bytes a second; decode it "
                "on the photo.")
    clip = gr.Video(label="Clip to encode", sources=["upload", "webcam"], elem_id="codec-clip")
    quality = gr.Slider(0, 63, 32, step=1, label="Quality (0 finest .. 63; each 8 halves the steps)")
    encode = gr.Button("Encode", elem_id="run-encode")
    stream = gr.File(label="Dynamics stream (.fdyn)", type="filepath", elem_id="stream")
    summary = gr.Markdown(elem_id="bitrate")

    def on_encode(video, q, progress=gr.Progress()):  # noqa: B008 (Gradio finds its progress bar by this default)
        try:
            if not video:
                raise InputError("no clip: upload or record a video with one face")
            done = studio.encode(_path(video), int(q), progress=_frames(progress))
        except Exception as exc:
            return None, _failed(gr, exc)
        return str(done.stream), done.describe()

    encode.click(on_encode, [clip, quality], [stream, summary], concurrency_id="facedyn", preprocess=False)
    decode = gr.Button("Decode on the photo", variant="primary", elem_id="run-decode")
    return decode, [stream], _stream_spec


def _frames(progress) -> Callable[[int, int | None], None]:
    return lambda done, total: progress((done, total), unit="frames")


def _render_handler(studio: Studio, make_spec):
    """A click handler: preview first, then the video, with progress; errors as one line."""
    import gradio as gr

    def handler(photo, size, paste, side, yaw, pitch, roll, *values, progress=gr.Progress()) -> Iterator:  # noqa: B008
        first = None
        try:
            driver, options = make_spec(*map(_path, values))
            options = JobOptions(size=int(size), paste_back=bool(paste), side_by_side=bool(side), yaw=_angle(yaw),
                                 pitch=_angle(pitch), roll=_angle(roll), **options)
            job = studio.job(_path(photo), driver, options)
            first = studio.preview(job)
            yield first, None, "Rendering..."
            done = studio.render(job, progress=_frames(progress))
        except Exception as exc:
            yield first, None, _failed(gr, exc)
            return
        yield first, str(done.output), f"{done.frames} frames in {done.seconds:.1f} s"

    return handler


def _failed(gr, exc: Exception) -> str:
    """The CLI's one line, as a notice and as the status text (never a traceback)."""
    line = error_line(exc)
    gr.Warning(line, title="Error")
    return f"**Error:** {line}"


def _path(value):
    """An uploaded file's path from Gradio's raw payload ({"path": ...}, a video's {"video":
    {...}}); other values as they are. The events skip Gradio's own preprocessing, so photos
    reach facedyn's loader untouched (EXIF turn, 16 bits, alpha) and a file that is not an
    image gets facedyn's one-line error instead of Gradio's."""
    if isinstance(value, dict):
        return _path(value.get("video")) if "video" in value else value.get("path")
    return value


def _angle(value) -> str:
    return f"{float(value or 0):g}"


def _animate_spec(video, mode, reference, pose, expression, eyes, brows, mouth, audio):
    options = {"mode": mode, "reference": str(reference or "first"), "pose_scale": pose, "expression_scale": expression,
               "eyes": eyes, "brows": brows, "mouth": mouth, "audio": "driving" if audio else "none"}
    return video or "", options


def _express_spec(label, duration, intensity, timeline, hold):
    if timeline and timeline.strip():
        return f"timeline:{timeline}", {"hold": bool(hold)}
    return f"expression:{label}:{float(duration):g}:{float(intensity):g}", {"hold": bool(hold)}


def _imagine_spec(seconds, seed, style):
    return f"imagine:{float(seconds):g}:{int(seed or 0)}", {"style": style}


def _motion_spec(path, fps):
    return path or "", {"fps": float(fps)} if fps else {}


def _stream_spec(path):
    return path or "", {}
