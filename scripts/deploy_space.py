"""Put GenLab on a Hugging Face Space in one command.

    python scripts/deploy_space.py --repo OWNER/NAME [--private] [--dry-run]
                                   [--hardware cpu|zerogpu] [--include-docs] [--export DIR]

Uploads only what the Space runs (app.py, demo/, engines/, assets/, requirements.txt,
packages.txt, README.md with its front matter) through huggingface_hub's HTTP upload API, which
stores binaries through Xet: no git push, so no git-lfs needed (the Hub refuses a push holding
plain binary objects, and this repository's history has them). docs/ (the README's pictures)
travels only with --include-docs. --dry-run lists every file with its size, checks the Space's
constraints and uploads nothing; a real run makes the same checks first.

--hardware zerogpu: the uploaded README asks for Python 3.12.12 (ZeroGPU runs 3.10.13 or
3.12.12; this project's pins need 3.11 or later) and the uploaded requirements list `spaces`.
The Space is created with hardware zero-a10g (ZeroGPU) or cpu-basic.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What the Space runs, relative to the root: files, and folders taken whole.
FILES = ("app.py", "requirements.txt", "packages.txt", "README.md")
FOLDERS = ("demo", "engines", "assets")
DOCS = "docs"
OPTIONAL = {"packages.txt"}                  # apt packages (a CJK font); the app runs without it
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo")
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin")  # weights ship as safetensors only
XET_SUFFIXES = (".safetensors", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".zip", ".npz", ".npy",
                ".ttf", ".otf", ".ttc", ".onnx", ".wasm")
LARGE = 10 * 2**20                            # bytes; a plain git push refuses larger files
TOTAL_WARN = 1 * 2**30                        # a Space's repository should stay well under this

HARDWARE = {"cpu": "cpu-basic", "zerogpu": "zero-a10g"}  # huggingface_hub.SpaceHardware values
# ZeroGPU's Python versions (the Hub's ZeroGPU page): 3.10.13 or 3.12.12. numpy 2.4, pandas 3 and
# transformers 5 need 3.11 or later, so GenLab takes 3.12.12 there.
ZEROGPU_PYTHONS = ("3.10.13", "3.12.12")
ZEROGPU_PYTHON = "3.12.12"
MIN_PYTHON = (3, 11)                          # what requirements.txt's pins install on
SPACES_LINE = "spaces  # ZeroGPU's @spaces.GPU (engines.gpu); the Hub preinstalls it on Gradio Spaces\n"


@dataclass
class Plan:
    """What one deploy uploads: {path in the Space: bytes}, and what the checks found."""
    root: Path
    hardware: str
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)   # any one fails the deploy
    notes: list[str] = field(default_factory=list)      # worth knowing, not fatal

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.files.values())


# --------------------------------------------------------------------------------------------
# Which files
# --------------------------------------------------------------------------------------------

def candidates(root: Path) -> list[str] | None:
    """Files git knows (tracked, or new and not ignored), or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sorted({p for p in out.decode().split("\0") if p and (root / p).is_file()})


def wanted(rel: str, include_docs: bool) -> bool:
    parts = rel.split("/")
    if SKIP_PARTS & set(parts) or rel.endswith(SKIP_SUFFIXES):
        return False
    if len(parts) == 1:
        return rel in FILES
    return parts[0] in FOLDERS or include_docs and parts[0] == DOCS


def space_files(root: Path = ROOT, *, include_docs: bool = False) -> list[str]:
    """Paths (relative, POSIX) the Space gets, in order."""
    known = candidates(root)
    if known is None:
        known = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return [p for p in known if wanted(p, include_docs)]


# --------------------------------------------------------------------------------------------
# Front matter and requirements
# --------------------------------------------------------------------------------------------

def split_front_matter(text: str) -> tuple[str, str]:
    """README text -> (YAML between the leading --- lines, the rest); ValueError without one."""
    m = re.match(r"---[ \t]*\r?\n(.*?)^---[ \t]*\r?$\n?", text, re.S | re.M)
    if not m:
        raise ValueError("README.md has no front matter (a YAML block between --- lines at its top)")
    return m[1], text[m.end():]


def parse_front_matter(text: str) -> dict:
    import yaml  # huggingface_hub depends on PyYAML

    block, _ = split_front_matter(text)
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as err:
        raise ValueError(f"README.md's front matter is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError("README.md's front matter is not a YAML mapping")
    return data


def set_front_matter_key(text: str, key: str, value: str) -> str:
    """The README with `key: value` in its front matter (replaced, or added at the end)."""
    block, body = split_front_matter(text)
    line = f"{key}: {value}"
    if re.search(rf"^{re.escape(key)}:.*$", block, re.M):
        block = re.sub(rf"^{re.escape(key)}:.*$", line, block, count=1, flags=re.M)
    else:
        block = block + ("" if block.endswith("\n") else "\n") + line + "\n"
    return f"---\n{block}---\n{body}"


def requirement_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line):
            pins[re.sub(r"[-_.]+", "-", m[1]).lower()] = m[2]
    return pins


def python_version_ok(version: str, hardware: str) -> str | None:
    """None when the Space's Python suits the hardware and the pins, else why not."""
    if not re.fullmatch(r"3\.\d+(\.\d+)?", version):
        return f"python_version {version!r} is not 3.x or 3.x.x"
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_PYTHON:
        return f"python_version {version} is older than 3.11, which requirements.txt's pins need"
    if hardware == "zerogpu" and version not in ZEROGPU_PYTHONS:
        return f"ZeroGPU runs Python {' or '.join(ZEROGPU_PYTHONS)}, not {version}"
    return None


# --------------------------------------------------------------------------------------------
# The plan and its checks
# --------------------------------------------------------------------------------------------

def plan(root: Path = ROOT, *, hardware: str = "cpu", include_docs: bool = False) -> Plan:
    """Read the files a Space gets, adapt README / requirements to the hardware, check them."""
    if hardware not in HARDWARE:
        raise ValueError(f"hardware must be one of {sorted(HARDWARE)}, not {hardware!r}")
    root = Path(root)
    p = Plan(root=root, hardware=hardware)
    for rel in space_files(root, include_docs=include_docs):
        p.files[rel] = (root / rel).read_bytes()
    for rel in FILES:
        if rel not in p.files:
            (p.notes if rel in OPTIONAL else p.problems).append(
                f"{rel} is missing" + (" (optional: apt packages such as a CJK font)" if rel in OPTIONAL else ""))

    readme = p.files.get("README.md", b"").decode("utf-8", errors="replace")
    reqs = p.files.get("requirements.txt", b"").decode("utf-8", errors="replace")
    if hardware == "zerogpu" and readme:
        try:
            readme = set_front_matter_key(readme, "python_version", f'"{ZEROGPU_PYTHON}"')
            p.files["README.md"] = readme.encode()
        except ValueError:
            pass  # reported below
        if reqs and not re.search(r"^spaces\b", reqs, re.M):
            reqs = reqs + ("" if reqs.endswith("\n") else "\n") + SPACES_LINE
            p.files["requirements.txt"] = reqs.encode()
    if readme:
        check_front_matter(p, readme, reqs)
    check_files(p)
    return p


def check_front_matter(p: Plan, readme: str, reqs: str) -> None:
    try:
        meta = parse_front_matter(readme)
    except ValueError as err:
        p.problems.append(str(err))
        return
    if meta.get("sdk") != "gradio":
        p.problems.append(f"front matter: sdk must be gradio, not {meta.get('sdk')!r}")
    sdk_version = str(meta.get("sdk_version", ""))
    gradio_pin = requirement_pins(reqs).get("gradio")
    if not re.fullmatch(r"\d+\.\d+\.\d+", sdk_version):
        p.problems.append(f"front matter: sdk_version must pin one Gradio version (x.y.z), not {sdk_version!r}")
    elif gradio_pin != sdk_version:
        p.problems.append(f"front matter: sdk_version {sdk_version} differs from requirements.txt's "
                          f"gradio=={gradio_pin}: the Space would install one and run the other")
    app_file = meta.get("app_file")
    if app_file != "app.py":
        p.problems.append(f"front matter: app_file must be app.py (the entry `python app.py`), not {app_file!r}")
    elif "app.py" in p.files:
        source = p.files["app.py"].decode("utf-8", errors="replace")
        if not re.search(r"^if __name__ == [\"']__main__[\"']:", source, re.M):
            p.problems.append("app.py does not launch under __main__, so `python app.py` would not serve")
        if "GRADIO_SERVER_NAME" not in source or "GRADIO_SERVER_PORT" not in source:
            p.problems.append("app.py does not read GRADIO_SERVER_NAME / GRADIO_SERVER_PORT: a Space could not reach it")
    python = meta.get("python_version")
    if python is None:
        p.notes.append("front matter has no python_version: the Hub's default (3.10) is too old for the pins")
        p.problems.append("front matter: set python_version")
    elif why := python_version_ok(str(python), p.hardware):
        p.problems.append(f"front matter: {why}")


def check_files(p: Plan) -> None:
    for rel, data in p.files.items():
        if rel.endswith(PICKLE_SUFFIXES):
            p.problems.append(f"{rel}: pickled weights run code when loaded; ship safetensors")
        if len(data) > LARGE:
            if rel.endswith(XET_SUFFIXES):
                p.notes.append(f"{rel}: {len(data) / 2**20:.1f} MiB, stored through Xet by the upload")
            else:
                p.problems.append(f"{rel}: {len(data) / 2**20:.1f} MiB is over 10 MiB and not a binary type "
                                  "the Hub stores through Xet")
    for rel in p.files:
        if rel.startswith(("assets/",)) and rel.endswith("/config.json"):
            folder = rel.rsplit("/", 1)[0]
            if f"{folder}/model.safetensors" not in p.files:
                p.problems.append(f"{folder}: config.json without model.safetensors")
    if p.total > TOTAL_WARN:
        p.notes.append(f"the upload is {p.total / 2**30:.2f} GiB")


def report(p: Plan, out=None) -> None:
    out = out or sys.stdout
    width = max((len(r) for r in p.files), default=10)
    for rel, data in p.files.items():
        print(f"  {rel:<{width}}  {len(data):>11,} B", file=out)
    print(f"{len(p.files)} files, {p.total:,} bytes ({p.total / 2**20:.1f} MiB); hardware {p.hardware} "
          f"({HARDWARE[p.hardware]})", file=out)
    for note in p.notes:
        print(f"note: {note}", file=out)
    for problem in p.problems:
        print(f"FAILED: {problem}", file=out)
    if not p.problems:
        print("checks passed: front matter, sdk_version == gradio pin, app_file app.py, python_version, "
              "file sizes, no pickles", file=out)


# --------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------

def export(p: Plan, folder: Path) -> None:
    """Write the plan's files (README and requirements as the Space gets them) into a new folder."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"{folder} is not empty")
    for rel, data in p.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)


def offline_reason() -> str | None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return f"{var} is set: huggingface_hub will not reach the Hub (unset it to deploy)"
    return None


KEEP_REMOTE = {".gitattributes"}  # the Hub writes this one when it creates the Space


def upload(p: Plan, repo: str, *, private: bool, api=None) -> str:
    """Create the Space if needed and make it hold exactly the plan's files, in one commit
    (files an earlier deploy left that the plan no longer has are deleted) -> the Space's URL."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = api or HfApi()
    try:
        api.whoami()
    except Exception as err:  # no token, a bad one, or no network: say which before anything else
        raise SystemExit(f"cannot reach the Hub as a logged-in user ({type(err).__name__}: {err}); "
                         "run `hf auth login` or set HF_TOKEN, and check the network") from None
    try:
        url = api.create_repo(repo, repo_type="space", space_sdk="gradio", private=private, exist_ok=True,
                              space_hardware=HARDWARE[p.hardware])
        remote = set(api.list_repo_files(repo, repo_type="space"))
    except Exception as err:
        raise SystemExit(f"could not create or read the Space {repo}: {err}") from None
    ops = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=data) for rel, data in p.files.items()]
    ops += [CommitOperationDelete(path_in_repo=rel) for rel in sorted(remote - set(p.files) - KEEP_REMOTE)]
    api.create_commit(repo, operations=ops, repo_type="space",
                      commit_message=f"Deploy GenLab ({len(p.files)} files, {p.hardware})")
    return str(url)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Upload GenLab to a Hugging Face Space (or check what would go).")
    parser.add_argument("--repo", required=True, help="the Space, OWNER/NAME")
    parser.add_argument("--private", action="store_true", help="create the Space private")
    parser.add_argument("--dry-run", action="store_true", help="list and check the files; upload nothing")
    parser.add_argument("--hardware", choices=sorted(HARDWARE), default="cpu",
                        help="cpu: CPU Basic (needs a paid plan since July 2026); zerogpu: free ZeroGPU")
    parser.add_argument("--include-docs", action="store_true", help="also upload docs/ (the README's pictures)")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write the files the Space would get into DIR (a new folder); upload nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", args.repo):
        print(f"--repo must be OWNER/NAME, not {args.repo!r}", file=sys.stderr)
        return 2
    p = plan(args.root, hardware=args.hardware, include_docs=args.include_docs)
    report(p)
    if p.problems:
        print(f"{len(p.problems)} check(s) failed: nothing uploaded", file=sys.stderr)
        return 1
    if args.export is not None:
        export(p, args.export)
        print(f"exported {len(p.files)} files to {args.export}")
        return 0
    if args.dry_run:
        print(f"dry run: would upload to https://huggingface.co/spaces/{args.repo}")
        return 0
    if why := offline_reason():
        print(f"cannot deploy: {why}", file=sys.stderr)
        return 1
    url = upload(p, args.repo, private=args.private)
    print(f"uploaded: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
