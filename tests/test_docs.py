"""The README and the pages under docs/: every link leads somewhere, every perfkit command
shown parses and names things that exist, and the README stays short."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from perfkit.cli.parser import _build_parser
from perfkit.model import registry
from perfkit.model.backend import get_backend

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    body = FENCE.sub("", page.read_text())
    return {_slug(line.lstrip("#")) for line in body.splitlines() if line.startswith("#")}


def _links(page: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(FENCE.sub("", page.read_text()))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    links = [link for link in _links(page) if not re.match(r"[a-z]+:", link)]
    for link in links:
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name}: {link} leads to no file"
        if anchor:
            assert anchor in _anchors(path), f"{page.name}: {link} leads to no heading"


def test_the_anchor_rule_is_githubs() -> None:
    assert _slug(" Two commits on one machine: `perfkit ab`") == (
        "two-commits-on-one-machine-perfkit-ab"
    )


def test_every_page_under_docs_is_linked_from_the_readme() -> None:
    linked = {(ROOT / link.partition("#")[0]).resolve() for link in _links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert page.resolve() in linked, f"docs/{page.name} is not linked from the README"


def _shown_commands() -> list[tuple[str, list[str]]]:
    """Every concrete perfkit command in a code block (usage synopses with brackets,
    alternatives or placeholders in capitals are left out)."""
    found = []
    for page in PAGES:
        for block in FENCE.findall(page.read_text()):
            for line in block.splitlines():
                for part in line.split("&&"):
                    text = part.split(" #")[0].strip().removeprefix("$ ")
                    if not text.startswith("perfkit ") or re.search(r"[\[\]|(]|\.\.\.", text):
                        continue
                    argv = shlex.split(text)[1:]
                    if any(re.fullmatch(r"[A-Z][A-Z_.]*(\.json|\.html)?", word) for word in argv):
                        continue
                    found.append((page.name, argv))
    return found


def test_every_perfkit_command_shown_parses_and_names_what_exists() -> None:
    registry.load()
    parser = _build_parser()
    commands = _shown_commands()
    assert any(argv[:1] == ["compare"] for _, argv in commands), "the README shows compare"
    for page, argv in commands:
        args = parser.parse_args(argv)  # raises UsageError on an unknown command or flag
        names = getattr(args, "workload", None) or []
        for given in [names] if isinstance(names, str) else names:
            for name in given.split(","):  # comma lists, as the command line takes them
                assert name in registry.workloads(), f"{page}: no workload {name!r}"
        for specs in getattr(args, "backends", None) or []:
            for spec in specs.split(","):
                get_backend(spec.split(":")[0])  # raises on an unknown backend


def test_the_readme_reads_in_a_few_minutes() -> None:
    """What the project is, the two commands, a picture, a tour, the summary tables of
    measured figures the README must hold (every table cell counts as words), the five
    commands of a Kubernetes run, and links: the reference, and every full table, lives
    under docs/."""
    words = len((ROOT / "README.md").read_text().split())
    assert words < 2250, f"the README has {words} words"


ENGINES = {"PyTorch": "torch", "Spark": "spark", "classic ML": "sklearn", "CuPy": "cupy"}


def test_the_package_promises_only_engines_that_have_a_backend() -> None:
    """The description in pyproject.toml and the package docstring name an engine only once
    a backend for it is registered (each landing adds its name)."""
    import tomllib

    import perfkit
    from perfkit.model.backend import backends

    registry.load()
    registered = " ".join(backends())
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]
    for text in (meta, (perfkit.__doc__ or "").splitlines()[0]):
        for engine, prefix in ENGINES.items():
            if engine in text:
                assert prefix in registered, f"{engine!r} is promised but has no backend"


def test_the_gpu_extras_differ_only_in_the_cupy_build() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    widest, newest = set(extras["gpu"]), set(extras["gpu-cuda13"])
    assert {r.split(">")[0] for r in widest - newest} == {"cupy-cuda12x"}
    assert {r.split(">")[0] for r in newest - widest} == {"cupy-cuda13x"}
