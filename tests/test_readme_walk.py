"""The README's first steps, walked as a new user walks them.

A fresh copy of the repository (what a clone holds, plus uncommitted work), a fresh
virtualenv with the package installed from it (a wheel, not editable), the quickstart copied
out with `cp -r` and a bot of one's own from `runtime init`, then validate, test and chat a
line in each: with no token, no secret, no network. The dependencies come from this
environment (a `.pth` file), so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECRETS = ("MESSENGER_PAGE_ACCESS_TOKEN", "RUNTIME_CONFIG")


def _repository_files() -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout and git, to know what a clone holds")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if name]


def _fresh_copy(destination: Path) -> Path:
    for name in _repository_files():
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def _fresh_virtualenv(folder: Path, package: Path) -> Path:
    """A new virtualenv with `package` installed as `pip install .` would: built into a
    wheel (by this environment's setuptools), then installed, not editable."""
    wheels = folder.parent / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(package),
        ],
        check=True,
        timeout=300,
    )
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # this environment's dependencies, seen by the new one: nothing to download
    Path(site, "_walk_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = wheels.glob("*.whl")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    return folder / "bin" / "runtime"


def test_the_readme_says_what_this_test_walks() -> None:
    steps = README[README.index("From the quickstart to Messenger") :]
    for said in ("runtime init mybot", "cp -r examples/quickstart", "runtime chat", "runtime test"):
        assert said in steps[:1500], said
    assert "runtime validate --offline" in steps[:1500]


def test_a_new_user_copies_the_quickstart_or_inits_a_bot_and_it_works_there(
    tmp_path: Path,
) -> None:
    clone = _fresh_copy(tmp_path / "clone")
    runtime = _fresh_virtualenv(tmp_path / "venv", clone)
    home = tmp_path / "home"
    home.mkdir()
    copied = subprocess.run(
        ["cp", "-r", str(clone / "examples" / "quickstart"), "quickstart"], cwd=home
    )
    assert copied.returncode == 0
    environ = {key: value for key, value in os.environ.items() if key not in SECRETS}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(runtime), *args],
            cwd=home,
            env=environ,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    initialized = run("init", "mybot")
    assert initialized.returncode == 0, initialized.stderr
    for bot in ("quickstart", "mybot"):
        config = f"{bot}/config.json5"
        for validate in (("validate", "--offline"), ("validate",)):
            validated = run(*validate, "-c", config)
            assert validated.returncode == 0, validated.stderr
            assert " 0 flows" not in validated.stdout
        tested = run("test", "-c", config)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert " 0 failed" in tested.stdout
        chatted = run("chat", "-c", config, stdin="hi\n/quit\n")
        assert chatted.returncode == 0, chatted.stderr
        assert "bot: " in chatted.stdout
    assert not (clone / "examples" / "quickstart" / ".runtime").exists()
