"""`make test` on a fresh machine: what the browser tests need (Debian's Chromium and the
CJK fonts) is installed with apt-get when missing and make runs as root; otherwise one
line says how to get it, and with CI=true the run stops. Played here with stand-ins for
id, dpkg-query and apt-get, so nothing is installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STUBS = {
    "id": '#!/bin/sh\necho "$FAKE_UID"\n',
    "dpkg-query": (
        "#!/bin/sh\n"
        'case " $* " in *" fonts-noto-cjk "*) [ -n "$FONTS" ] && printf "install ok installed"'
        " && exit 0; exit 1;; esac\nexit 1\n"
    ),
    "apt-get": '#!/bin/sh\necho "apt-get $*" >> "$APT_LOG"\n[ -z "$APT_FAILS" ]\n',
}


@pytest.fixture
def machine(tmp_path):  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STUBS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "apt.log"

    def make(*, root: bool, chromium: bool, fonts: bool, ci: bool = False, apt_fails=False):  # type: ignore[no-untyped-def]
        chromium_path = tmp_path / "chromium"
        if chromium:
            chromium_path.write_text("")
            chromium_path.chmod(0o755)
        elif chromium_path.exists():
            chromium_path.unlink()
        env = {
            "PATH": f"{bin_dir}:{os.path.dirname(shutil.which('make') or '/usr/bin/make')}:/bin",
            "FAKE_UID": "0" if root else "1000",
            "FONTS": "1" if fonts else "",
            "APT_LOG": str(log),
            "APT_FAILS": "1" if apt_fails else "",
            "CI": "true" if ci else "false",
            "CHROMIUM_PATH": str(chromium_path),
        }
        result = subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(ROOT), "browser"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        calls = log.read_text().splitlines() if log.exists() else []
        if log.exists():
            log.unlink()
        return result, calls

    return make


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


@needs_make
def test_as_root_the_missing_packages_are_installed(machine):
    result, calls = machine(root=True, chromium=False, fonts=False, ci=True)
    assert result.returncode == 0, result.stderr
    assert calls == ["apt-get update -qq", "apt-get install -y -qq chromium fonts-noto-cjk"]
    result, calls = machine(root=True, chromium=True, fonts=False)
    assert calls == ["apt-get update -qq", "apt-get install -y -qq fonts-noto-cjk"]


@needs_make
def test_nothing_happens_when_everything_is_there(machine):
    result, calls = machine(root=True, chromium=True, fonts=True, ci=True)
    assert (result.returncode, result.stdout, result.stderr, calls) == (0, "", "", [])


@needs_make
def test_outside_ci_without_root_one_line_says_how_to_get_them(machine):
    result, calls = machine(root=False, chromium=False, fonts=False)
    assert result.returncode == 0
    assert calls == []
    assert result.stdout.strip().splitlines() == [
        "Browser tests need chromium fonts-noto-cjk from Debian: "
        "sudo apt-get install chromium fonts-noto-cjk (or run make test as root)."
    ]


@needs_make
def test_in_ci_a_browser_that_cannot_be_installed_stops_the_run(machine):
    result, calls = machine(root=False, chromium=False, fonts=True, ci=True)
    assert result.returncode != 0
    assert calls == []
    assert "chromium" in result.stderr
    result, calls = machine(root=True, chromium=False, fonts=True, ci=True, apt_fails=True)
    assert result.returncode != 0
    assert "could not install chromium" in result.stderr
    result, calls = machine(root=True, chromium=False, fonts=True, apt_fails=True)
    assert result.returncode == 0


def test_make_test_and_ci_take_the_same_path():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bbrowser\b", makefile, re.MULTILINE)
    ci = (ROOT / ".ci/run").read_text()
    assert "apt-get" not in ci and "make test" in ci
    assert "playwright install" not in makefile + ci
