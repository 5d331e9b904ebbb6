"""Frames per second of the 2-D playground while it trains, on this machine's CPU.

    python benchmarks/playground_fps.py [--seconds 6] [--app] [--out benchmarks/results/playground-fps.json]

Three measurements, printed as one JSON object:
- "engine": the tab's play loop (demo.playground_tab.PlaygroundHandlers.play) run in-process with
  the frame cap lifted: frames/s and training steps/s for each model, and where a frame's time goes
  (training, the engine's Frame, drawing, PNG encoding).
- "render": the same GAN frame drawn by the tab's numpy/PIL renderer and by a lean matplotlib
  figure (Agg, object API, one figure reused): milliseconds per frame. The tab uses the faster one.
- "app" (with --app): `python app.py` launched, one gradio_client session presses Play and counts
  the frames that arrive, as a browser would receive them (the tab's cap of MAX_FPS applies).

The CPU is shared with other work unless the machine is quiet; "load_1min" records how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = {  # name -> (model, data, loss)
    "gan-ns": ("gan", "gaussians8", "ns"),
    "gan-wgan-gp": ("gan", "gaussians8", "wgan-gp"),
    "diffusion": ("diffusion", "moons", "ns"),
    "vae": ("vae", "ring", "ns"),
}


def _values(model, data, loss, spf):
    from demo import playground_tab as pt

    controls = [model, data, loss, "0.003", 1, 1.0, 1.0, 256, 0, 0]
    view = ["js", list(pt.SHOW_DEFAULT), pt.TIMESTEPS // 4, spf]
    return controls, view


def engine_fps(seconds: float, spf: int) -> dict:
    """The play loop in-process, uncapped: frames/s, steps/s and the split of one frame's time."""
    from demo import playground_plots as plots
    from demo import playground_tab as pt

    cap, pt.MAX_FPS = pt.MAX_FPS, 10_000  # measure what the machine can do, not the tab's cap
    h = pt.positional(pt.PlaygroundHandlers())  # called as Gradio calls them
    out = {}
    for name, (model, data, loss) in CASES.items():
        controls, view = _values(model, data, loss, spf)
        sess = h.setup("en", None, *controls, *view)[0]
        frames, t0 = 0, time.perf_counter()
        for _ in h.play("en", sess, *controls, *view):
            frames += 1
            if time.perf_counter() - t0 > seconds:
                sess.pause = True
        wall = time.perf_counter() - t0
        # Where one frame's time goes, timed part by part on the trained model.
        parts = {"train_ms": [], "frame_ms": [], "draw_ms": [], "png_ms": []}
        for _ in range(10):
            a = time.perf_counter()
            sess.pg.train(spf)
            b = time.perf_counter()
            fr = sess.pg.frame(t_view=view[2])
            c = time.perf_counter()
            img = plots.render(fr, "en", "js", view[1])
            d = time.perf_counter()
            pt.frame_html(img, "")
            e = time.perf_counter()
            for k, v in zip(parts, (b - a, c - b, d - c, e - d)):
                parts[k].append(v * 1e3)
        out[name] = {"frames_per_s": round(frames / wall, 1), "steps_per_s": round(frames * spf / wall, 1),
                     "frames": frames, "seconds": round(wall, 2), "steps_per_frame": spf,
                     **{k: round(statistics.median(v), 1) for k, v in parts.items()}}
    pt.MAX_FPS = cap
    return out


def _matplotlib_frame(fig, axes, frame):
    """A lean matplotlib version of the GAN frame: heat map, points, arrows, warped grid."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from engines.toy2d import EXTENT

    for ax in axes:
        ax.clear()
        ax.set_xlim(-EXTENT, EXTENT)
        ax.set_ylim(-EXTENT, EXTENT)
        ax.set_xticks([])
        ax.set_yticks([])
    a, b = axes
    a.imshow(frame.heat, extent=(-EXTENT, EXTENT, -EXTENT, EXTENT), cmap="PRGn", vmin=0, vmax=1)
    a.scatter(*frame.real.T, s=3, c="tab:green")
    a.scatter(*frame.fake.T, s=3, c="tab:purple")
    n = len(frame.arrows)
    a.quiver(*frame.fake[:n].T, *frame.arrows.T, color="indigo", width=0.003)
    m = frame.manifold
    for row in m:
        b.plot(*row.T, lw=0.5, c="thistle")
    for col in m.transpose(1, 0, 2):
        b.plot(*col.T, lw=0.5, c="thistle")
    b.scatter(*frame.real.T, s=2, c="tab:green")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.buffer_rgba()


def render_compare(repeats: int = 10) -> dict:
    from matplotlib.figure import Figure

    from demo import playground_plots as plots
    from engines import toy2d

    pg = toy2d.Playground(toy2d.Settings(model="gan", data="gaussians8"))
    pg.train(50)
    frame = pg.frame()
    pil, mpl = [], []
    fig = Figure(figsize=(plots.WIDTH / 100, plots.PANEL / 100), dpi=100)
    axes = fig.subplots(1, 2)
    for _ in range(repeats):
        a = time.perf_counter()
        plots.render(frame, "en")
        b = time.perf_counter()
        _matplotlib_frame(fig, axes, frame)
        c = time.perf_counter()
        pil.append((b - a) * 1e3)
        mpl.append((c - b) * 1e3)
    return {"numpy_pil_ms": round(statistics.median(pil), 1), "matplotlib_ms": round(statistics.median(mpl), 1),
            "note": "the PIL frame includes the two charts; the matplotlib one draws only the two panels"}


def app_fps(seconds: float) -> dict:
    """One gradio_client session plays for `seconds`; frames counted as they arrive."""
    from gradio_client import Client

    from demo import playground_tab as pt
    from tests.launch import launched_app

    out = {}
    with launched_app("--lang", "en") as (url, _, _):
        client = Client(url, verbose=False)
        for name in ("gan-ns", "diffusion"):
            model, data, loss = CASES[name]
            controls, view = _values(model, data, loss, pt.DEFAULT_SPF)
            client.predict(*controls, *view, api_name="/playground_setup")
            job = client.submit(*controls, *view, api_name="/playground_play")
            t0 = time.perf_counter()
            seen, first = 0, None
            while time.perf_counter() - t0 < seconds + 5:
                n = len(job.outputs())
                if n and first is None:
                    first = (time.perf_counter(), n)
                seen = n
                if first and time.perf_counter() - first[0] > seconds:
                    break
                time.sleep(0.05)
            t1 = time.perf_counter()
            client.predict(api_name="/playground_pause")
            job.result(timeout=30)
            out[name] = {"frames_per_s": round((seen - first[1]) / (t1 - first[0]), 1) if first else 0.0,
                         "cap": pt.MAX_FPS, "steps_per_frame": pt.DEFAULT_SPF}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--spf", type=int, default=5, help="training steps per frame (the tab's default)")
    parser.add_argument("--app", action="store_true", help="also measure through a launched app")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    import torch

    from engines import runtime

    result = {
        "benchmark": "playground_fps",
        "machine": runtime.hardware_summary(torch.device("cpu")),
        "python": platform.python_version(),
        "load_1min_before": round(os.getloadavg()[0], 2),
        "cpu_note": "busy CPU: measured while other work shared the 2 cores" if os.getloadavg()[0] > 1.0
        else "quiet CPU",
        "render": render_compare(),
        "engine": engine_fps(args.seconds, args.spf),
    }
    if args.app:
        result["app"] = app_fps(args.seconds)
    result["load_1min_after"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
