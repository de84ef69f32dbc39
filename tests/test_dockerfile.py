"""perfkit's images (Dockerfile, CPU; deploy/docker/gpu.Dockerfile, GPU): a fixed non-root
user, pinned bases and packages, no secret baked in, a build stage that copies everything
the package is built from; and, where a container runtime exists, the image builds and
`perfkit list` runs in it."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
IMAGES = {"cpu": ROOT / "Dockerfile", "gpu": ROOT / "deploy" / "docker" / "gpu.Dockerfile"}
CONSTRAINTS = ROOT / "deploy" / "docker" / "constraints.txt"


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuations joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def stages(text: str) -> list[Stage]:
    """The build's stages, each base with the global ARG defaults put in."""
    defaults: dict[str, str] = {}
    found: list[Stage] = []
    for keyword, rest in _instructions(text):
        if keyword == "ARG" and not found:
            name, _, value = rest.partition("=")
            defaults[name.strip()] = value.strip()
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m[1], m[0]), words[0])
            found.append(Stage(base, words[2] if len(words) > 2 else None))
        elif found:
            found[-1].steps.append((keyword, rest))
    return found


def final_user(path: Path) -> str:
    users = [rest for keyword, rest in stages(path.read_text())[-1].steps if keyword == "USER"]
    assert users, f"{path.name}: the image runs as root (no USER in its last stage)"
    return users[-1]


def pinned(image: str) -> bool:
    """A base named by digest, or by a tag that begins with a full version (3.11.11-...)."""
    if "@sha256:" in image:
        return True
    tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
    return re.match(r"\d+\.\d+\.\d+", tag) is not None


def unpinned_packages(run: str) -> list[str]:
    """What one RUN line installs without a version: apt packages without ``=version``, a
    pip install or wheel with neither constraints (-c) nor --no-index."""
    loose = []
    for command in re.split(r"&&|;", run):
        words = shlex.split(command)
        if words[:2] == ["apt-get", "install"]:
            loose += [w for w in words[2:] if not w.startswith("-") and "=" not in w]
        installs = words[:1] == ["pip"] and words[1:2] in (["install"], ["wheel"])
        if installs and not {"-c", "--constraint", "--no-index"} & set(words):
            loose.append(command.strip())
    return loose


def secret_problems(text: str) -> list[str]:
    """Ways a Dockerfile could bake a secret in: an ENV or ARG whose name says secret,
    password, token or key; a COPY or ADD of the Spark secret file."""
    problems = []
    for keyword, rest in _instructions(text):
        if keyword in ("ENV", "ARG"):
            for name in re.findall(r"(\w+)=", rest) or [rest.split()[0]]:
                if re.search(r"SECRET|PASSWORD|TOKEN|(^|_)KEY($|_)", name.upper()):
                    problems.append(f"{keyword} {name}")
        if keyword in ("COPY", "ADD") and "secret" in rest.lower():
            problems.append(f"{keyword} {rest}")
    return problems


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_the_image_runs_as_a_fixed_non_root_user_it_creates(image: str) -> None:
    path = IMAGES[image]
    user = final_user(path)
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user}: name a numeric UID:GID"
    uid, gid = user.split(":")
    assert uid != "0"
    assert gid != "0"
    runs = " ".join(rest for k, rest in stages(path.read_text())[-1].steps if k == "RUN")
    assert f"--uid {uid}" in runs, "the user is not created"
    assert f"--gid {gid}" in runs, "the user's group is not created"


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_base_image_is_pinned(image: str) -> None:
    built = stages(IMAGES[image].read_text())
    names = {s.name for s in built if s.name}
    for stage in built:
        assert stage.base in names or pinned(stage.base), f"FROM {stage.base} is not pinned"


def test_the_pin_check_can_fail() -> None:
    for loose in ("python", "python:latest", "python:3.11-slim", "nvidia/cuda:13-runtime"):
        assert not pinned(loose), loose
    assert pinned("registry:5000/python:3.11.11-slim")
    assert pinned("python@sha256:" + "0" * 64)
    assert unpinned_packages("apt-get install -y --no-install-recommends curl=8.1 procps") == [
        "procps"
    ]
    assert unpinned_packages("pip install numpy") == ["pip install numpy"]


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_package_is_pinned(image: str) -> None:
    text = IMAGES[image].read_text()
    runs = [rest for stage in stages(text) for k, rest in stage.steps if k == "RUN"]
    assert [p for run in runs for p in unpinned_packages(run)] == []
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert re.fullmatch(r"[\w.]+", version) if sep else False, f"constraints: {line}"
            pins[canonicalize_name(name)] = version
    # Every requirement of perfkit and of the extra the image installs has a pin.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (extra,) = set(re.findall(r'"?\.\[([\w-]+)\]"?', text))
    required = project["dependencies"] + project["optional-dependencies"][extra]
    wanted = {canonicalize_name(Requirement(r).name) for r in required}
    assert wanted - set(pins) == set(), f"{image}: not in constraints.txt"


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_no_secret_is_baked_into_the_image(image: str) -> None:
    assert secret_problems(IMAGES[image].read_text()) == []
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[next(i for i, x in enumerate(ignored) if x and not x.startswith("#"))] == "*"
    assert "**/spark-secret.txt" in ignored


def test_the_secret_check_can_fail() -> None:
    baked = "FROM python:3.11.11-slim\nENV PERFKIT_SPARK_SECRET=abc \\\n    HOME=/tmp\n"
    baked += "ARG API_KEY\nCOPY deploy/k8s/base/spark-secret.txt /etc/\n"
    assert len(secret_problems(baked)) == 3
    assert secret_problems("FROM python:3.11.11-slim\nENV KEYRING_OFF=1 HOME=/tmp\n") == []


def _build_copies(text: str) -> list[tuple[str, str]]:
    """(source, destination) of the first stage that builds perfkit's wheel."""
    build = next(s for s in stages(text) if any("pip wheel" in r for _, r in s.steps))
    copies = []
    for keyword, rest in build.steps:
        words = rest.split()
        if keyword == "COPY" and not any(w.startswith("--from") for w in words):
            copies += [(source, words[-1]) for source in words[:-1]]
    return copies


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_the_build_stage_copies_every_folder_the_package_is_built_from(image: str) -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = set(setuptools["package-dir"].values())
    sources = {source.rstrip("/") for source, _ in _build_copies(IMAGES[image].read_text())}
    assert folders | {"pyproject.toml", "README.md"} <= sources
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}  # fmt: skip
    assert {s.split("/")[0] for s in sources} <= {a.split("/")[0] for a in allowed}


@pytest.mark.slow
def test_the_build_stage_builds_a_whole_wheel_from_what_it_copies(tmp_path: Path) -> None:
    """What the CPU image's build stage sees, laid out as its COPY lines lay it out, makes a
    wheel with the kernels and the allocator's sources (no checkout beside it)."""
    context = tmp_path / "src"
    context.mkdir()
    for source, destination in _build_copies(IMAGES["cpu"].read_text()):
        # Docker's rule: a folder's contents go to the destination; a file into a
        # destination that ends with "/".
        target = context / destination
        if (ROOT / source).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "build")
            shutil.copytree(ROOT / source, target, ignore=ignore, dirs_exist_ok=True)
        else:
            if destination.endswith("/"):
                target = target / Path(source).name
            shutil.copy(ROOT / source, target)
    # Deadline: a wheel builds in seconds here; minutes on a loaded machine.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), "."],
        cwd=context, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("perfkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("perfkit/_kernels/") and n.endswith(".cu") for n in names)
    assert any(n.startswith("perfkit/_native/src/") and n.endswith(".c") for n in names)


def _container_runtime() -> str | None:
    for tool in ("docker", "podman"):
        if shutil.which(tool) is None:
            continue
        # Deadline: a runtime answers `info` in a second; one that hangs is none.
        done = subprocess.run([tool, "info"], capture_output=True, timeout=60, check=False)
        if done.returncode == 0:
            return tool
    return None


@pytest.mark.slow
def test_the_image_builds_and_lists_the_workloads(tmp_path: Path) -> None:
    runtime = _container_runtime()
    if runtime is None:
        pytest.skip(
            "no container runtime (docker or podman) runs on this machine, so the image is "
            "not built here; the checks above read its Dockerfile"
        )
    # Deadlines: the build pulls a base image and installs Java and pyspark (minutes).
    tag = "perfkit-test:latest"
    built = subprocess.run(
        [runtime, "build", "-t", tag, str(ROOT)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        listed = subprocess.run(
            [runtime, "run", "--rm", "--read-only", "--tmpfs", "/tmp", tag],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr[-3000:]
        assert "matmul" in listed.stdout
        whoami = subprocess.run(
            [runtime, "run", "--rm", tag, "id", "-u"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert whoami.stdout.strip() == final_user(IMAGES["cpu"]).split(":")[0]
    finally:
        subprocess.run([runtime, "rmi", "-f", tag], capture_output=True, timeout=300, check=False)
