"""User mistakes end with exit code 2 and one `error:` line, never a traceback."""

import pandas as pd
import pytest
import yaml

from facebehavior.cli.main import main

TASKS = [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
         {"name": "au", "kind": "multilabel", "labels": "@aus"}]


def _fails_cleanly(capsys, argv: list[str], *needles: str) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in err
    return err


def _config(tmp_path, **extra) -> str:
    data = {"name": "t", "out_dir": str(tmp_path / "run"), "tasks": TASKS, **extra}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_missing_config_file(tmp_path, capsys):
    _fails_cleanly(capsys, ["train", "--config", str(tmp_path / "nope.yaml")], "nope.yaml", "does not exist")


def test_unknown_config_key(tmp_path, capsys):
    path = _config(tmp_path, train={"lrr": 0.1})
    _fails_cleanly(capsys, ["train", "--config", path], "train: unknown key(s) ['lrr']", "valid keys")


def test_bad_override(tmp_path, capsys):
    path = _config(tmp_path)
    _fails_cleanly(capsys, ["train", "--config", path, "--set", "tasks.5.weight=2"], "tasks.5.weight")
    _fails_cleanly(capsys, ["train", "--config", path, "--set", "train.optimizer=lbfgs"], "train.optimizer")



def test_out_of_range_and_malformed_overrides(tmp_path, capsys):
    path = _config(tmp_path)
    _fails_cleanly(capsys, ["train", "--config", path, "--set", "train.lr=[1,"], "train.lr=[1,", "not valid YAML")
    _fails_cleanly(capsys, ["train", "--config", path, "--set", "data.batch_size=0"],
                   "data.batch_size: 0 is out of range; valid: >= 1")
    assert not (tmp_path / "run").exists()

def test_bad_manifest_row_in_training_data(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.png", "b.png"], "database": ["x", "x"], "split": ["train", "train"],
                  "au12": [1, 2]}).to_csv(manifest, index=False)
    path = _config(tmp_path, data={"train": [str(manifest)]})
    _fails_cleanly(capsys, ["train", "--config", path], f"{manifest}, line 3, column 'au12'")
    assert not (tmp_path / "run").exists()


def test_bad_manifest_row_in_relatedness_estimate(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["a.png"], "database": ["x"], "split": ["tran"], "expr": [1]}).to_csv(manifest, index=False)
    _fails_cleanly(capsys, ["relatedness", "estimate", "-m", str(manifest)], f"{manifest}, line 2, column 'split'")


def test_missing_images_in_training_data(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    pd.DataFrame({"path": ["missing.png"], "database": ["x"], "split": ["train"], "expr": [1]}).to_csv(
        manifest, index=False)
    path = _config(tmp_path, data={"train": [str(manifest)]})
    _fails_cleanly(capsys, ["train", "--config", path], "do not exist", f"image {tmp_path / 'missing.png'} not found")


def test_bad_checkpoint_path(tmp_path, capsys):
    _fails_cleanly(capsys, ["evaluate", "--checkpoint", str(tmp_path / "runs" / "x" / "best")],
                   "not a checkpoint folder")


def test_corrupt_checkpoint(tmp_path, capsys):
    folder = tmp_path / "best"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"garbage")
    (folder / "meta.json").write_text("{")
    _fails_cleanly(capsys, ["evaluate", "--checkpoint", str(folder)], "meta.json is corrupt")


def test_bad_relatedness_table(tmp_path, capsys):
    bad = tmp_path / "rel.csv"
    bad.write_text("class,au1\nhappiness,2\n")
    _fails_cleanly(capsys, ["relatedness", "show", str(bad)], f"{bad}, line 2")
    _fails_cleanly(capsys, ["relatedness", "show", "du2015"], "neither a built-in")


def test_argument_mistakes_exit_2_via_argparse(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["relatedness", "estimate"])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "usage: facebehavior" in capsys.readouterr().out


def test_output_into_a_pipe_whose_reader_left_ends_quietly():
    """`facebehavior ... | head`: head leaves after its lines; no BrokenPipeError traceback, exit 141."""
    import subprocess
    import sys

    from facebehavior.cli.main import SIGPIPE_EXIT

    child = subprocess.Popen([sys.executable, "-m", "facebehavior", "relatedness", "show"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    child.stdout.close()  # the reader is gone before anything is written
    err = child.stderr.read().decode()
    assert child.wait(timeout=120) == SIGPIPE_EXIT
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


def test_a_full_disk_outside_any_guarded_write_is_one_line(monkeypatch, capsys):
    import errno

    from facebehavior.cli import relatedness

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/table.csv")

    monkeypatch.setattr(relatedness, "run_show", full)
    err = _fails_cleanly(capsys, ["relatedness", "show"], "no space left on the device while writing "
                                                          "/data/out/table.csv", "what was written before is kept")
    assert len(err.strip().splitlines()) == 1


def test_a_path_that_cannot_be_written_is_one_line(monkeypatch, capsys):
    import errno

    from facebehavior.cli import relatedness

    def read_only(args):
        raise OSError(errno.EROFS, "Read-only file system", "/mnt/ro/table.csv")

    monkeypatch.setattr(relatedness, "run_show", read_only)
    err = _fails_cleanly(capsys, ["relatedness", "show"], "/mnt/ro/table.csv: Read-only file system")
    assert len(err.strip().splitlines()) == 1
