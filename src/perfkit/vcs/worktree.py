"""Two git refs of this repository, side by side: a worktree each, one interleaved run."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from perfkit.model.errors import UsageError

__all__ = ["checkout", "repository_root", "resolve_ref"]


def _git(*args: str, cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError:
        raise UsageError("git is not installed") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[:200]
        raise UsageError(f"git {' '.join(args[:2])}: {message}")
    return done.stdout.strip()


def repository_root(start: Path) -> Path:
    try:
        return Path(_git("rev-parse", "--show-toplevel", cwd=start))
    except UsageError:
        raise UsageError(f"{start} is not inside a git repository") from None


def resolve_ref(ref: str, repo: Path) -> str:
    """The commit a ref names, or a one-line UsageError."""
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo)
    except UsageError:
        raise UsageError(f"unknown git ref {ref!r} in {repo}") from None


@contextlib.contextmanager
def checkout(ref: str, repo: Path) -> Iterator[tuple[str, Path]]:
    """A detached worktree of ``ref``; yields (commit, the folder holding its ``perfkit``
    package) and removes the worktree afterwards, also on error and Ctrl-C."""
    sha = resolve_ref(ref, repo)
    folder = Path(tempfile.mkdtemp(prefix="perfkit-ab-"))
    tree = folder / "tree"
    try:
        _git("worktree", "add", "--detach", str(tree), sha, cwd=repo)
        source = tree / "src"
        if not (source / "perfkit" / "__init__.py").is_file():
            raise UsageError(f"{ref} ({sha[:10]}) has no src/perfkit to measure")
        yield sha, source
    finally:
        with contextlib.suppress(UsageError):
            _git("worktree", "remove", "--force", str(tree), cwd=repo)
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(UsageError):
            _git("worktree", "prune", cwd=repo)
