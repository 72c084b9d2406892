"""ONNX export: same outputs as PyTorch (within 1e-4), dynamic batch, self-contained metadata."""

import numpy as np
import pytest

from facebehavior.errors import FaceBehaviorError


@pytest.fixture(scope="module")
def onnx_file(checkpoint, tmp_path_factory):
    from facebehavior.inference.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    summary = export_onnx(checkpoint, out)
    assert max(summary["max_abs_diff"].values()) < 1e-4
    return out


def test_outputs_named_per_task_with_dynamic_batch(onnx_file):
    from facebehavior.inference.onnx_export import onnx_session

    session = onnx_session(onnx_file)
    assert [o.name for o in session.get_outputs()] == ["expr", "au", "va"]
    assert session.get_inputs()[0].name == "image"
    assert session.get_inputs()[0].type == "tensor(uint8)"  # crops as they come: the graph normalises
    for batch in (1, 7):
        x = np.random.default_rng(batch).integers(0, 256, (batch, 32, 32, 3), dtype=np.uint8)
        expr, au, va = session.run(None, {"image": x})
        assert expr.shape == (batch, 7) and au.shape == (batch, 17) and va.shape == (batch, 2)
        assert np.allclose(expr.sum(1), 1, atol=1e-5)


def test_onnxruntime_and_torch_backends_agree_on_real_crops(checkpoint, onnx_file, media, ferplus_images):
    from facebehavior.inference.backends import load_backend
    from facebehavior.data.transforms import load_image

    crops = np.stack([load_image(p, 32) for p in ferplus_images])
    torch_out = load_backend(checkpoint, "torch").run(crops)
    for source in (onnx_file, checkpoint):  # the exported file, and a checkpoint exported in memory
        onnx_out = load_backend(source, "onnxruntime").run(crops)
        for task in ("expr", "au", "va"):
            assert np.abs(onnx_out[task] - torch_out[task]).max() < 1e-4


def test_exported_file_carries_thresholds_and_trained_heads(checkpoint_no_va, tmp_path):
    from facebehavior.inference.backends import load_backend
    from facebehavior.inference.onnx_export import export_onnx
    from facebehavior.models.checkpoint import read_meta

    out = tmp_path / "no_va.onnx"
    export_onnx(checkpoint_no_va, out, check=False)
    info = load_backend(out).info  # "auto" picks onnxruntime for a .onnx file
    assert info.untrained == ["va"] and info.image_size == 32
    assert info.thresholds == read_meta(checkpoint_no_va).thresholds
    assert info.untrained_labels == load_backend(checkpoint_no_va, "torch").info.untrained_labels
    assert "au9" in info.untrained_labels["au"]


def test_onnx_file_with_torch_backend_is_refused(onnx_file):
    from facebehavior.inference.backends import load_backend

    with pytest.raises(FaceBehaviorError, match="onnxruntime"):
        load_backend(onnx_file, "torch")


def _faces_and_torch_in_a_fresh_process(model, photo) -> list[str]:
    """[faces found, whether torch was imported] for one photo analysed on ONNX Runtime in a new process."""
    import subprocess
    import sys

    code = ("import sys\nfrom facebehavior.inference import FaceBehavior\n"
            f"table = FaceBehavior.load({str(model)!r}, backend='onnxruntime', warn=False).predict({str(photo)!r})\n"
            "print(len(table), 'torch' in sys.modules)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_an_exported_file_is_analysed_without_loading_torch(onnx_file, media):
    # torch adds ~470 MiB to a process; the ONNX path is the light one (docs/analyze.md, Memory)
    assert _faces_and_torch_in_a_fresh_process(onnx_file, media["root"] / "images" / "astronaut.jpg") == ["1", "False"]


def test_a_checkpoint_run_on_onnxruntime_is_exported_once_then_read_without_torch(checkpoint, media, tmp_path,
                                                                                monkeypatch):
    """The first onnxruntime run of a checkpoint folder exports it (torch needed) into the cache; the
    next runs read the cached graph and never load torch (2-3 s and ~470 MiB per start)."""
    from facebehavior.inference.backends import load_backend

    monkeypatch.setenv("FACEBEHAVIOR_CACHE", str(tmp_path / "cache"))  # the child process inherits it
    load_backend(checkpoint, "onnxruntime")
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1
    assert _faces_and_torch_in_a_fresh_process(checkpoint, media["root"] / "images" / "astronaut.jpg") == ["1", "False"]


def test_the_cached_export_follows_the_checkpoint_and_an_unwritable_cache_only_costs_the_export(
        checkpoint, tmp_path, monkeypatch):
    import shutil

    import facebehavior.inference.onnx_export as onnx_export
    from facebehavior.inference.onnx_export import cached_onnx, onnx_session

    copy = tmp_path / "ckpt"
    shutil.copytree(checkpoint, copy)
    monkeypatch.setenv("FACEBEHAVIOR_CACHE", str(tmp_path / "cache"))
    exports = []
    real_export = onnx_export.export_onnx_bytes
    monkeypatch.setattr(onnx_export, "export_onnx_bytes", lambda *a: exports.append(a) or real_export(*a))
    first = cached_onnx(copy)
    assert cached_onnx(copy) == first and len(exports) == 1  # read back, not exported again
    weights = next(p for p in copy.rglob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x01")  # retrained, say: another graph
    assert cached_onnx(copy) != first and len(exports) == 2
    (tmp_path / "not_a_folder").write_text("x")
    monkeypatch.setenv("FACEBEHAVIOR_CACHE", str(tmp_path / "not_a_folder"))
    data, meta = cached_onnx(copy)  # no cache: exported in memory, as before
    assert [o.name for o in onnx_session(data).get_outputs()] == [t["name"] for t in meta["tasks"]]


def test_auto_runs_a_checkpoint_folder_on_onnxruntime_on_the_cpu_and_falls_back_to_torch(checkpoint, monkeypatch):
    """`auto` (the default) is ONNX Runtime on the CPU; a folder ONNX cannot run still works, on
    PyTorch, and says so."""
    import facebehavior.inference.backends as backends

    assert type(backends.load_backend(checkpoint)).__name__ == "OnnxBackend"

    def cannot(*_):
        raise RuntimeError("an operator the exporter lacks")

    monkeypatch.setattr(backends, "_onnx_backend_of_folder", cannot)
    with pytest.warns(UserWarning, match="using PyTorch"):
        assert type(backends.load_backend(checkpoint)).__name__ == "TorchBackend"
    with pytest.raises(RuntimeError):  # asked for by name: no silent substitute
        backends.load_backend(checkpoint, "onnxruntime")
