"""The wheel works as a user gets it: built from this tree, installed into a fresh virtual environment
outside the repository, then run from another folder — the CLI, the quick demo, a training run from a
packaged config by name, and `analyze` on a photo with the model shipped inside the package.

The fresh environment installs only the wheel (no dependencies): a `.pth` file lends it the test
environment's site-packages for torch and the rest, after its own, so `facebehavior` itself can only
come from the wheel (checked), never from src/.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The fresh environment's bin folder, facebehavior installed there from a wheel of this tree."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(work / "dist"), str(ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next((work / "dist").glob("facebehavior-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "env")], check=True, timeout=300)
    env_python = work / "env" / "bin" / "python"
    subprocess.run([str(env_python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    own = subprocess.run([str(env_python), "-c", "import site; print(site.getsitepackages()[0])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    Path(own, "zz_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return work / "env" / "bin"


def _run(bin_dir: Path, args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_installed_package_comes_from_the_wheel_and_holds_its_data(installed, tmp_path):
    probe = ("import facebehavior, pathlib; p = pathlib.Path(facebehavior.__file__).parent; print(p); "
             "print(sorted(x.name for x in (p / 'configs').glob('*.yaml'))); "
             "print((p / 'weights' / 'models.json').is_file())")
    out = _run(installed, ["python", "-c", probe], tmp_path)
    assert out.returncode == 0, out.stderr
    location, configs, weights = out.stdout.splitlines()
    assert str(ROOT / "src") not in location and "site-packages" in location
    assert "paper_affect.yaml" in configs and "ferplus.yaml" in configs
    assert weights == "True"


def test_help_and_the_quick_demo_run_from_the_wheel(installed, tmp_path):
    assert _run(installed, ["facebehavior", "--help"], tmp_path).returncode == 0
    demo = _run(installed, ["facebehavior", "demo", "--quick", "--out", "demo", "--data", "synth"], tmp_path)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert (tmp_path / "demo" / "report.md").is_file()


def test_training_from_a_packaged_config_by_name(installed, tmp_path):
    from tests.training.conftest import write_tiny_affect_data

    manifest = write_tiny_affect_data(tmp_path / "data", n=40)
    args = ["facebehavior", "train", "-c", "paper_affect", "--set", f"data.train=[{manifest}]",
            "--set", "data.val=[]", "--set", "data.test=[]", "--set", "data.image_size=32", "--set", "data.label_sets=auto",
            "--set", "data.batch_size=20", "--set", "data.num_workers=0", "--set", "model.preset=tiny",
            "--set", "train.max_steps=2", "--set", "train.epochs=1", "--set", "train.device=cpu",
            "--set", "train.amp=none", "--set", "train.progress=false", "--set", "out_dir=run", "--no-test"]
    out = _run(installed, args, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.safetensors").is_file()


def test_analyze_a_photo_with_the_shipped_model(installed, tmp_path):
    import cv2
    from skimage import data

    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    out = _run(installed, ["facebehavior", "analyze", "photo.jpg", "--no-progress"], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    table = (tmp_path / "results.csv").read_text().splitlines()
    header = table[0].split(",")
    assert "expr_happiness" in header and not any(c.startswith("au") for c in header)
    assert len(table) == 2 and ",ok," in table[1]
