"""Hostile requests against the launched app, sent as an attacker would (raw HTTP), -> JSON.

    python benchmarks/hostile.py [--quick] [--soak [--sessions 200]]

Every input is built here (no hostile files are shipped): values no widget can send (NaN,
infinities, 1e308, strings, lists, unknown choices, 100,000 characters), bodies and uploads over
the limits, a pickle, a zip that climbs out of its folder, a zip bomb, a checkpoint whose config
asks for a 250 GB model. For each: whether it was refused, the message, the seconds until the
answer, the app's RSS after it; then whether a normal request still works. `--soak` opens
sessions that upload a checkpoint, train a few steps and leave (half of them through the API
alone, with no browser heartbeat), and reports RSS and the temporary folders before and after.

`tests/test_hostile_app.py` and `tests/test_soak.py` send the same requests.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import pickle
import struct
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__" or "benchmarks.common" not in sys.modules:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ROOT, data_dir, emit  # noqa: E402

RSS_BOUND_MB = 1536      # the bound for the app under every hostile input (2-core CPU)
REFUSE_WITHIN_S = 5.0    # ... and how soon each must be answered
UPLOAD_LIMIT_MB = 50     # app.py's max_file_size (common.MAX_UPLOAD_MB default)
UNEXPECTED = "Something went wrong on the server"  # demo.i18n's error.unexpected: refused, but not clearly


# --- raw HTTP, as a client without a browser talks to the app --------------------------------



def train_recipe(steps: int = 5, **changed) -> list:
    """The Train tab's train_start values (after the upload), in studio.RECIPE_FIELDS order."""
    from engines import studio

    defaults = {k.name: k.default for k in studio.KNOBS}  # every family's own settings, as declared
    recipe = {**defaults, "family": "vae", "dataset": "mnist", "size": "tiny", "steps": steps, "batch_size": 8, "lr": 0.002,
              "beta": 1.0, "latent_dim": 2, "p_uncond": 0.1, "r1_gamma": 1.0, "n_images": 64, "seed": 0,
              "preview_every": 50, "fast": False, **changed}
    return [recipe[f] for f in studio.RECIPE_FIELDS]

def _http():
    import httpx

    return httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0))


@dataclass
class Answer:
    kind: str              # "complete", "error" (the app's message), "warning" (a status line's), "http"
    message: str = ""
    status: int = 200
    data: object = None
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        return self.kind != "complete"


def upload(url: str, files: list[tuple[str, bytes]]) -> tuple[int, object]:
    """POST /gradio_api/upload -> (status, server paths or the error body)."""
    with _http() as http:
        r = http.post(url + "gradio_api/upload", files=[("files", (name, body)) for name, body in files])
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def file_value(path: str, name: str) -> dict:
    """A gr.File value naming a file already uploaded."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def call(url: str, api_name: str, data: list, *, body: bytes | None = None, timeout: float = 60.0) -> Answer:
    """POST /gradio_api/call/NAME, then read its event stream to the end -> Answer.

    `body` replaces the JSON body (to send what json.dumps would not, or a lot of it)."""
    t0 = time.perf_counter()
    payload = body if body is not None else json.dumps({"data": data}).encode()  # NaN / Infinity stay as is
    with _http() as http:
        r = http.post(url + f"gradio_api/call/{api_name}", content=payload,
                      headers={"content-type": "application/json"})
        if r.status_code != 200:
            return Answer("http", r.text[:500], r.status_code, seconds=time.perf_counter() - t0)
        event_id = r.json()["event_id"]
        kind, message, out = "error", "", None
        with http.stream("GET", url + f"gradio_api/call/{api_name}/{event_id}", timeout=timeout) as s:
            event = None
            for line in s.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    text = line.split(":", 1)[1].strip()
                    if event == "complete":
                        kind, out = "complete", json.loads(text)
                        # A refused upload is explained in the tab's status line (a "⚠️ " Markdown).
                        warned = [o for o in out if isinstance(o, str) and o.startswith("⚠️")]
                        if warned:
                            kind, message = "warning", warned[0][2:].strip()
                    elif event == "error":
                        error = json.loads(text) if text and text != "null" else ""
                        message = error.get("error") or "" if isinstance(error, dict) else error or ""
                    if event in ("complete", "error"):
                        break
    return Answer(kind, str(message), 200, out, time.perf_counter() - t0)


def normal_call(url: str) -> Answer:
    """What a well-behaved client asks: one VAE decode at the origin."""
    return call(url, "vae_slider", ["mnist-vae-z16", *[0.0] * 16])


# --- inputs, built here ------------------------------------------------------------------------


def pickle_checkpoint() -> bytes:
    return pickle.dumps({"state_dict": {"w": [0.0] * 8}, "note": "a pickle runs code when loaded"})


def _safetensors(tensors: dict[str, tuple[str, list[int], bytes]]) -> bytes:
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def huge_config_zip(hidden: int = 20_000_000) -> bytes:
    """The issue's 637-byte checkpoint: a VAE config with `hidden` 20,000,000 (250 GB of weights)
    and an empty model.safetensors."""
    config = json.loads((ROOT / "assets" / "mnist-vae-z2" / "config.json").read_text())
    config["hidden"] = hidden
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.safetensors", _safetensors({}))
        z.writestr("card.json", json.dumps({"name": "huge"}))
    return buf.getvalue()


def traversal_zip() -> bytes:
    folder = ROOT / "assets" / "mnist-vae-z2"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in ("config.json", "card.json"):
            z.writestr(f, (folder / f).read_bytes())
        z.writestr("../../genlab-escaped.txt", b"written outside the upload folder")
        z.writestr("model.safetensors", (folder / "model.safetensors").read_bytes())
    return buf.getvalue()


def bomb_zip(size_mb: int = 1024) -> bytes:
    """One member of `size_mb` MB of zeros, a few MB compressed (written in 16 MB pieces)."""
    buf = io.BytesIO()
    piece = bytes(16 * 2**20)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("model.safetensors", "w", force_zip64=True) as f:
            for _ in range(size_mb // 16):
                f.write(piece)
        z.writestr("config.json", (ROOT / "assets" / "mnist-vae-z2" / "config.json").read_text())
        z.writestr("card.json", "{}")
    return buf.getvalue()


def checkpoint_zip(folder: Path) -> bytes:
    """A real checkpoint folder as the zip a user would upload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in ("config.json", "model.safetensors", "card.json"):
            z.write(folder / f, f)
    return buf.getvalue()


def _big_body(total_mb: int, chunk_mb: int = 4):
    """A JSON body of total_mb MB, generated piece by piece (never held whole)."""
    yield b'{"data": ["'
    piece = b"a" * (chunk_mb * 2**20)
    for _ in range(max(1, total_mb // chunk_mb)):
        yield piece
    yield b'"]}'


def post_stream(url: str, path: str, total_mb: int, *, declare: bool) -> Answer:
    """POST a huge body; with `declare`, a Content-Length says its size up front, else it comes chunked."""
    import httpx

    t0 = time.perf_counter()
    size = total_mb // 4 * 4 * 2**20 + len(b'{"data": ["') + len(b'"]}')
    headers = {"content-type": "application/json"}
    if declare:
        headers["content-length"] = str(size)
    try:
        with _http() as http:
            r = http.post(url + path, content=_big_body(total_mb), headers=headers)
        return Answer("complete" if r.status_code == 200 else "http", r.text[:300], r.status_code,
                      seconds=time.perf_counter() - t0)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        # The server answered and closed before the whole body went: refused, as meant.
        return Answer("http", f"connection closed by the server: {type(exc).__name__}", 413,
                      seconds=time.perf_counter() - t0)


def _upload_then(url: str, api_name: str, name: str, body: bytes, extra: list) -> Answer:
    t0 = time.perf_counter()
    status, paths = upload(url, [(name, body)])
    if status != 200:
        return Answer("http", str(paths)[:300], status, seconds=time.perf_counter() - t0)
    answer = call(url, api_name, [[file_value(paths[0], name)], *extra])
    answer.seconds = time.perf_counter() - t0
    return answer


VAE_UPLOAD_EXTRA = ["mnist-vae-z16", "mnist-vae-z16-beta4", "mnist-vae-z2"]  # the other dropdowns vae_upload redraws
NAN, INF = float("nan"), float("inf")


@dataclass
class Case:
    name: str
    send: object                     # (url) -> Answer
    expect: str                      # words the English message must contain
    keys: tuple[str, ...] = ()       # engines.errors keys whose Chinese must exist
    needs: str = ""                  # "heng": refused once the engine fix lands
    must_refuse: bool = True         # False: may be accepted, harmlessly (see the case's comment)
    quick: bool = True
    seconds: float = field(default=REFUSE_WITHIN_S)


def cases() -> list[Case]:
    z = [0.0] * 16
    gen = ["mnist-ddpm", 1, 0, "ddim", 10, 0.0, "all", 3]

    def gen_with(i, v):
        out = list(gen)
        out[i] = v
        return out

    def train_with(field, v):
        return [None, *train_recipe(**{"steps": 5, field: v})]

    return [
        Case("nan_slider", lambda u: call(u, "vae_slider", ["mnist-vae-z16", NAN, *z[1:]]), "finite",
             ("input_not_finite",)),
        Case("inf_steps", lambda u: call(u, "diffusion_generate", gen_with(4, INF)), "finite", ("input_not_finite",)),
        Case("huge_steps", lambda u: call(u, "diffusion_generate", gen_with(4, 1e308)), "between",
             ("input_out_of_range",)),
        Case("negative_batch", lambda u: call(u, "gan_interpolate", ["faces-stylegan", 1, 2, 0.5, -5, 0.7]),
             "between", ("input_out_of_range",)),
        # diffusion_generate takes raw values (preprocess=False): its range is the engine's, per model.
        Case("zero_ddim_steps", lambda u: call(u, "diffusion_generate", gen_with(4, 0)), "from 1 to", ()),
        Case("string_psi", lambda u: call(u, "gan_truncation", ["faces-stylegan", "1, 2", "a lot"]), "number",
             ("input_not_number",)),
        Case("list_seed", lambda u: call(u, "diffusion_generate", gen_with(2, [1, 2, 3])), "number",
             ("input_not_number",)),
        Case("none_slider", lambda u: call(u, "vae_slider", ["mnist-vae-z16", None, *z[1:]]), "number",
             ("input_not_number",)),
        Case("unknown_choice", lambda u: call(u, "diffusion_generate", gen_with(3, "rm -rf /")), "one of",
             ("input_not_choice",)),
        Case("unknown_model", lambda u: call(u, "vae_slider", ["../../etc/passwd", *z]), "one of",
             ("input_not_choice",)),
        Case("long_prompt", lambda u: call(u, "clip_generate", ["a" * 100_000, "", "genlab", "pixels", 10, 1.0, 0, 1,
                                                                 "none", 64, False, 1]),
             "100000 characters", ("input_too_long",)),
        Case("string_bool", lambda u: call(u, "clip_generate", ["a red circle", "", "genlab", "pixels", 10, 1.0, 0,
                                                                 1, "none", 64, "yes", 1]),
             "true or false", ("input_not_bool",)),
        Case("nan_learning_rate", lambda u: call(u, "train_start", train_with("lr", NAN)), "finite", ("input_not_finite",)),
        Case("huge_train_steps", lambda u: call(u, "train_start", train_with("steps", 1e300)), "between",
             ("input_out_of_range",)),
        Case("json_body_500mb", lambda u: post_stream(u, "gradio_api/call/vae_slider", 500, declare=True), "MB",
             ("request_too_large",)),
        Case("json_body_chunked_64mb", lambda u: post_stream(u, "gradio_api/queue/join", 64, declare=False), "",
             ("request_too_large",)),
        Case("upload_60mb", lambda u: _upload_then(u, "vae_upload", "big.zip", os.urandom(60 * 2**20),
                                                   VAE_UPLOAD_EXTRA), "", ()),
        Case("pickle_checkpoint", lambda u: _upload_then(u, "vae_upload", "model.pt", pickle_checkpoint(),
                                                         VAE_UPLOAD_EXTRA), "pickle", ("checkpoint_pickle",)),
        # A checkpoint zip's members are read in memory by their base name, never extracted by path:
        # the '../../' member is ignored and the checkpoint loads. What counts is that nothing escaped.
        Case("traversal_zip", lambda u: _upload_then(u, "vae_upload", "escape.zip", traversal_zip(),
                                                     VAE_UPLOAD_EXTRA), "", (), must_refuse=False),
        Case("zip_bomb_1gb", lambda u: _upload_then(u, "vae_upload", "bomb.zip", bomb_zip(1024), VAE_UPLOAD_EXTRA),
             "", (), quick=False),
        Case("huge_config_zip", lambda u: _upload_then(u, "vae_upload", "huge.zip", huge_config_zip(),
                                                       VAE_UPLOAD_EXTRA), "", (), needs="heng"),
    ]


def run_case(url: str, pid: int, case: Case) -> dict:
    from tests.launch import rss_bytes

    t0 = time.perf_counter()
    try:
        answer = case.send(url)
    except Exception as exc:  # the app dropped the connection: counts as not answered
        answer = Answer("exception", f"{type(exc).__name__}: {exc}", 0, seconds=time.perf_counter() - t0)
    after = normal_call(url)
    clear = answer.refused and UNEXPECTED not in answer.message
    return {"name": case.name, "refused": answer.refused, "clear_message": clear, "must_refuse": case.must_refuse, "kind": answer.kind, "status": answer.status,
            "message": answer.message[:300], "seconds": round(answer.seconds, 3),
            "rss_mb": round(rss_bytes(pid) / 2**20), "still_serving": after.kind == "complete",
            "needs": case.needs or None}


# --- soak ----------------------------------------------------------------------------------------


def temp_files(root: Path) -> list[str]:
    """Every file under the app's temporary folder (folders may stay: the tabs' export folders
    are made once per process)."""
    return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def soak_session(url: str, body: bytes, *, api_only: bool, steps: int = 3) -> dict:
    """One session: open, upload a checkpoint, train a few steps, leave. The browser-like ones use
    gradio_client (a session with its queue stream); API-only ones use /gradio_api/call alone."""
    t0 = time.perf_counter()
    train = [None, *train_recipe(steps)]
    if api_only:
        status, paths = upload(url, [("vae.zip", body)])
        assert status == 200, paths
        up = call(url, "vae_upload", [[file_value(paths[0], "vae.zip")], *VAE_UPLOAD_EXTRA])
        tr = call(url, "train_start", train)
        return {"api_only": True, "upload": up.kind, "train": tr.kind, "seconds": time.perf_counter() - t0,
                "message": (up.message or tr.message)[:200]}
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=False)
    try:
        path = Path(tempfile.mkdtemp(prefix="soak-")) / "vae.zip"
        path.write_bytes(body)
        try:
            client.predict([handle_file(str(path))], *VAE_UPLOAD_EXTRA, api_name="/vae_upload")
            client.predict(None, *train[1:], api_name="/train_start")
            for _ in range(3):  # read the run as the tab's 1 s timer would
                time.sleep(0.5)
                client.predict(api_name="/train_poll")
        finally:
            path.unlink(missing_ok=True)
            path.parent.rmdir()
        return {"api_only": False, "upload": "complete", "train": "complete", "seconds": time.perf_counter() - t0}
    except Exception as exc:
        return {"api_only": False, "upload": "error", "train": "error", "seconds": time.perf_counter() - t0,
                "message": f"{type(exc).__name__}: {exc}"[:200]}
    finally:
        client.close()


def soak(url: str, pid: int, sessions: int, app_tmp: Path, settle_s: float) -> dict:
    from tests.launch import rss_bytes

    body = checkpoint_zip(ROOT / "assets" / "mnist-vae-z2")
    for _ in range(2):  # warm: the first training loads MNIST and its code
        soak_session(url, body, api_only=True)
    time.sleep(settle_s)
    baseline = rss_bytes(pid) / 2**20
    t0, results, peak = time.perf_counter(), [], baseline
    for i in range(sessions):
        results.append(soak_session(url, body, api_only=i % 2 == 0))
        peak = max(peak, rss_bytes(pid) / 2**20)
    wall = time.perf_counter() - t0
    deadline = time.perf_counter() + settle_s * 3
    while time.perf_counter() < deadline:  # the sweeper frees sessions older than their TTL
        time.sleep(1)
        if not temp_files(app_tmp):
            break
    time.sleep(settle_s)
    end = rss_bytes(pid) / 2**20
    failed = [r for r in results if r["upload"] != "complete" or r["train"] != "complete"]
    return {"sessions": sessions, "api_only": sum(r["api_only"] for r in results), "wall_s": round(wall, 1),
            "per_session_s": round(wall / max(1, sessions), 2), "failed": len(failed), "failures": failed[:5],
            "rss_baseline_mb": round(baseline), "rss_peak_mb": round(peak), "rss_end_mb": round(end),
            "rss_end_vs_baseline": round(end / baseline, 3),
            "temp_files_left": temp_files(app_tmp)[:10], "temp_dir": str(app_tmp)}


def soak_env(tmp: Path, ttl_s: float = 4.0) -> dict:
    """The app's settings for a soak: a short session lifetime, and its own temporary folder (TMPDIR,
    with Gradio's cache inside), so that what it leaves is told apart from other processes' files."""
    return {"TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"), "GENLAB_SESSION_TTL_S": str(ttl_s),
            "GENLAB_SWEEP_S": "1", "GENLAB_JOB_STEPS": "50", "GENLAB_DATA_DIR": data_dir() or ""}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slow inputs (the 1 GB zip bomb)")
    parser.add_argument("--soak", action="store_true", help="also the soak: sessions that upload, train and leave")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--note", default="busy CPU: other jobs running")
    args = parser.parse_args(argv)

    from engines import runtime
    from tests.launch import launched_app, rss_bytes

    app_tmp = Path(tempfile.mkdtemp(prefix="hostile-app-"))
    out = {"benchmark": "hostile", "hardware": runtime.hardware_summary(), "note": args.note,
           "targets": {"refuse_within_s": REFUSE_WITHIN_S, "rss_bound_mb": RSS_BOUND_MB}}
    with launched_app(env=soak_env(app_tmp)) as (url, proc, started):
        out["start_s"] = round(started, 1)
        out["rss_start_mb"] = round(rss_bytes(proc.pid) / 2**20)
        for _ in range(3):  # warm: the first requests after start pay for Gradio's own first use
            normal_call(url)
        rows = [run_case(url, proc.pid, c) for c in cases() if c.quick or not args.quick]
        out["inputs"] = rows
        out["peak_rss_mb"] = max(r["rss_mb"] for r in rows)
        must = [r for r in rows if r["must_refuse"]]
        out["all_refused"] = all(r["refused"] for r in must)
        out["all_clear"] = all(r["clear_message"] for r in must)
        out["unclear"] = [r["name"] for r in must if not r["clear_message"]]
        out["slowest_refusal_s"] = max(r["seconds"] for r in rows if r["refused"]) if rows else None
        out["meets_targets"] = (out["all_refused"] and out["all_clear"] and out["slowest_refusal_s"] <= REFUSE_WITHIN_S
                                and out["peak_rss_mb"] <= RSS_BOUND_MB and all(r["still_serving"] for r in rows))
        if args.soak:
            out["soak"] = soak(url, proc.pid, args.sessions, app_tmp, settle_s=6.0)
    emit(out)


if __name__ == "__main__":
    main()
