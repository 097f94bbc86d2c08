import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["build", "release", "export", "grade", "data", "bench"]


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "coursekit.cli", *args], capture_output=True, text=True,
                          cwd=kw.pop("cwd", REPO), **kw)


def test_help_lists_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for cmd in COMMANDS:
        assert cmd in out.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_subcommand_help(cmd):
    out = run(cmd, "--help")
    assert out.returncode == 0 and "usage: coursekit " + cmd in out.stdout


def test_unknown_dataset_is_a_one_line_error():
    out = run("data", "fetch", "nonexistent")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "unknown data set 'nonexistent'" in out.stderr and "coursekit data list" in out.stderr


def test_missing_real_files_is_a_one_line_error(tmp_path):
    env = {"COURSEKIT_DATA": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = run("data", "path", "art", "--source", "real", env=env)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "missing" in out.stderr and "Fix:" in out.stderr


def test_release_check_passes_on_repository():
    out = run("release", "--check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_import_is_light_and_fast():
    code = ("import sys, time; t = time.perf_counter(); import coursekit, coursekit.datasets, "
            "coursekit.metrics, coursekit.models; dt = time.perf_counter() - t; "
            "print(dt, 'torch' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    dt, torch, tf = out.stdout.split()
    assert torch == "False" and tf == "False"
    assert float(dt) < 2.0
