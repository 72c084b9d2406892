"""Preset generation: manifests validate, sizes and roles as described, determinism, cache."""

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from facebehavior.data.manifest import read_manifest
from facebehavior.synthface import (
    COMPOUND_CLASSES,
    SYNTH_ATTRIBUTES,
    SYNTHFACE_VERSION,
    cached_preset,
    generate_preset,
    read_preset,
    render_face,
    task_specs,
)
from facebehavior.synthface.sample import make_sample
from facebehavior.synthface import generate
from facebehavior.synthface.presets import BP4D_AUS, DISFA_AUS, EMOTIONET_AUS, GFT_AUS, preset_databases
from facebehavior.labels import AU_NAMES, CELEBA_ATTRIBUTES, affect_tasks

SCALE = 0.004  # every split at its minimum of 4 images (MIN_SPLIT): ~140 images


@pytest.fixture(scope="module")
def affect_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("affect")
    start = time.perf_counter()
    generate_preset("affect", out, size=64, seed=7, scale=SCALE, workers=1)
    return out, time.perf_counter() - start


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_quick_generation_is_fast(affect_dir):
    out, seconds = affect_dir
    n = sum(1 for _ in out.rglob("*.png"))
    assert n == sum(sum(db.sizes.values()) for db in preset_databases("affect", SCALE))
    assert seconds < 30, f"{n} images took {seconds:.1f} s"


def test_every_manifest_validates_and_points_at_images(affect_dir):
    out, _ = affect_dir
    meta = read_preset(out)
    for db in meta["databases"]:
        manifest = read_manifest(out / db["manifest"], affect_tasks())
        assert set(manifest.frame["database"]) == {db["name"]}
        assert manifest.frame["split"].value_counts().to_dict() == db["sizes"]
        assert all(p.is_file() for p in manifest.image_paths())


def test_labels_only_where_a_database_annotates(affect_dir):
    out, _ = affect_dir
    for db in read_preset(out)["databases"]:
        frame = read_manifest(out / db["manifest"], affect_tasks()).frame
        labelled = set(db["au_subset"] or [])
        for au in AU_NAMES:
            assert frame[au].notna().all() if au in labelled else frame[au].isna().all(), (db["name"], au)
        assert frame["expr"].notna().all() == ("expr" in db["tasks"])
        assert frame["expr"].isna().all() == ("expr" not in db["tasks"])
        assert frame["valence"].notna().all() == ("va" in db["tasks"])


def test_preset_json_describes_the_paper_setting(affect_dir):
    out, _ = affect_dir
    meta = read_preset(out)
    assert (meta["preset"], meta["seed"], meta["size"], meta["version"]) == ("affect", 7, 64, SYNTHFACE_VERSION)
    dbs = {db["name"]: db for db in meta["databases"]}
    roles = [db["role"] for db in dbs.values()]
    assert roles.count("train") == 6 and roles.count("unseen") == 2 and roles.count("compound") == 1
    subsets = {"synth_disfa": DISFA_AUS, "synth_bp4d": BP4D_AUS, "synth_emotionet": EMOTIONET_AUS,
               "synth_gft": GFT_AUS}
    for name, aus in subsets.items():
        assert dbs[name]["au_subset"] == [f"au{a}" for a in aus]
        assert dbs[name]["metrics"] == {"au": "f1"}
    assert dbs["synth_rafdb"]["metrics"] == {"expr": "mean_diag"} and dbs["synth_rafdb"]["mirrors"] == "RAF-DB"
    assert dbs["synth_affectnet"]["metrics"] == {"expr": "accuracy", "va": "ccc"}
    for db in dbs.values():
        if db["role"] == "train":
            assert set(db["sizes"]) == {"train", "val", "test"}
        if db["role"] == "unseen":
            assert set(db["sizes"]) == {"test"}
    assert meta["compound_classes"] == list(COMPOUND_CLASSES)


def test_compound_set_has_classes_aus_and_valence(affect_dir):
    out, _ = affect_dir
    spec = next(s for s in preset_databases("affect", SCALE) if s.role == "compound")
    frame = read_manifest(out / "synth_compound" / "manifest.csv", task_specs(spec)).frame
    assert frame["compound"].between(0, len(COMPOUND_CLASSES) - 1).all()
    assert frame[list(AU_NAMES)].notna().all().all() and frame["valence"].notna().all()


def test_truth_file_has_latent_expression_for_au_only_sets(affect_dir):
    import pandas as pd

    out, _ = affect_dir
    truth = pd.read_csv(out / "synth_disfa" / "truth.csv")
    assert truth["latent_expr"].notna().all() and "au12_intensity" in truth and "yaw" in truth


def test_same_output_for_any_worker_count(affect_dir, tmp_path, monkeypatch):
    out, _ = affect_dir
    monkeypatch.setattr(generate, "CHUNK", 16)  # split databases over both workers, out of order
    monkeypatch.setattr(generate, "MIN_PARALLEL", 0)
    generate_preset("affect", tmp_path, size=64, seed=7, scale=SCALE, workers=2)
    assert _files(tmp_path) == _files(out)


def test_different_seed_gives_different_faces():
    spec = preset_databases("affect")[0]
    a, b = (render_face(make_sample(spec, seed, 0).params, 32) for seed in (1, 2))
    assert not np.array_equal(a, b)


def test_existing_preset_is_reused(affect_dir):
    out, _ = affect_dir
    path = out / "preset.json"
    image = out / "synth_rafdb" / "images" / "000000.png"
    stamps = path.stat().st_mtime_ns, image.stat().st_mtime_ns
    start = time.perf_counter()
    assert generate_preset("affect", out, size=64, seed=7, scale=SCALE, workers=1) == path
    assert time.perf_counter() - start < 1.0
    assert (path.stat().st_mtime_ns, image.stat().st_mtime_ns) == stamps  # nothing rewritten
    for changed in ({"seed": 8}, {"size": 48}, {"scale": 2 * SCALE}):
        settings = {"size": 64, "seed": 7, "scale": SCALE, **changed}
        assert cached_preset("affect", out, **settings) is None, changed


def test_changed_settings_regenerate_in_place(affect_dir, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(affect_dir[0], out)
    stale = out / "synth_rafdb" / "images" / "999999.png"  # left over from an older, bigger preset
    stale.write_bytes(b"")
    image = out / "synth_rafdb" / "images" / "000000.png"
    os.utime(image, ns=(1, 1))
    path = generate_preset("affect", out, size=48, seed=7, scale=SCALE, workers=1)
    assert json.loads(path.read_text())["size"] == 48
    assert image.stat().st_mtime_ns != 1 and not stale.exists()


def test_identity_preset_is_subject_dependent(tmp_path):
    path = generate_preset("identity", tmp_path, size=32, seed=0, scale=0.01, workers=1)  # 5 identities
    db = read_preset(path)["databases"][0]
    assert db["role"] == "identity" and db["tasks"] == ["identity", "attributes"]
    spec = preset_databases("identity", 0.01)[0]
    assert db["subjects"]["train"] == spec.subjects["train"] == 5
    frame = read_manifest(tmp_path / db["manifest"], task_specs(spec)).frame
    ids = set(range(db["subjects"]["train"]))
    for split in ("train", "val", "test"):
        assert set(frame.loc[frame["split"] == split, "identity"]) == ids
    assert set(SYNTH_ATTRIBUTES) <= set(CELEBA_ATTRIBUTES)
    values = frame[list(SYNTH_ATTRIBUTES)].to_numpy()
    assert set(np.unique(values)) <= {0, 1}
    # stable traits are constant per identity; worn things vary for some identities
    assert (frame.groupby("identity")["Male"].nunique() == 1).all()
    assert (frame.groupby("identity")["Eyeglasses"].nunique() > 1).any()


def test_unknown_preset_and_bad_scale_are_refused(tmp_path):
    from facebehavior.errors import ConfigError

    with pytest.raises(ConfigError, match="affect"):
        generate_preset("nope", tmp_path)
    with pytest.raises(ConfigError, match="scale"):
        generate_preset("affect", tmp_path, scale=0)
    with pytest.raises(ConfigError, match="16..112"):
        generate_preset("affect", tmp_path, size=200)


def test_worker_csv_is_what_pandas_writes(tmp_path):
    import pandas as pd

    from facebehavior.synthface.worker import render_chunk, render_chunk_csv

    for spec in (preset_databases("affect", SCALE)[2], preset_databases("identity", 0.01)[0]):
        job = (spec, 5, 32, str(tmp_path / spec.name), 0, 6)
        rows, truths = render_chunk(job)
        _, start, count, manifest, truth = render_chunk_csv(job)
        assert (start, count) == (0, 6)
        for text, table in ((manifest, rows), (truth, truths)):
            frame = pd.DataFrame(table)
            integer = [c for c in frame if frame[c].map(lambda v: v is None or isinstance(v, int)).all()]
            assert "".join(text) == frame.astype({c: "Int64" for c in integer}).to_csv(index=False)


def test_databases_of_an_earlier_preset_are_removed(tmp_path):
    stale = tmp_path / "synth_gone" / "images"
    stale.mkdir(parents=True)
    (stale / "000000.png").write_bytes(b"")
    (tmp_path / "preset.json").write_text(json.dumps({"databases": [{"name": "synth_gone",
                                                                     "manifest": "synth_gone/manifest.csv"}]}))
    generate_preset("identity", tmp_path, size=16, seed=0, scale=0.01, workers=1)
    assert not stale.exists()
