"""Strict configs: unknown keys, types, choices, required fields, overrides, semantic checks."""

from pathlib import Path

import pytest
import yaml

from facebehavior.config import (
    LabelSetConfig,
    config_from_yaml_text,
    config_to_yaml,
    load_config,
)
from facebehavior.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
AFFECT = {"tasks": [
    {"name": "expr", "kind": "multiclass", "labels": "@expressions"},
    {"name": "au", "kind": "multilabel", "labels": "@aus"},
    {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]},
]}


def _base(**extra) -> dict:
    data = {"tasks": [dict(t) for t in AFFECT["tasks"]]}
    data.update(extra)
    return data


def test_minimal_config_loads_with_defaults():
    cfg = load_config(base=_base())
    assert [t.name for t in cfg.task_specs()] == ["expr", "au", "va"]
    assert cfg.task_specs()[1].size == 17
    assert cfg.task_specs()[2].extra == {"range": (-1.0, 1.0)}
    assert cfg.train.optimizer == "sgd" and cfg.train.lr == pytest.approx(1e-4)
    assert cfg.data.label_sets == "auto"


def test_unknown_top_level_key_lists_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(base=_base(trian={"lr": 1}))
    msg = str(err.value)
    assert "trian" in msg and "valid keys" in msg and "'train'" in msg


def test_unknown_nested_key_names_its_path_and_valid_keys():
    with pytest.raises(ConfigError) as err:
        load_config(base=_base(train={"lrr": 0.1}))
    msg = str(err.value)
    assert msg.startswith("train:") and "lrr" in msg and "'lr'" in msg and "'momentum'" in msg
    with pytest.raises(ConfigError, match=r"coupling\[0\]\.distribution_matching.*'weight'"):
        load_config(base=_base(coupling=[{"distribution_matching": {"wieght": 1}}]))


@pytest.mark.parametrize("section, values, where", [
    ("train", {"epochs": "ten"}, "train.epochs"),
    ("train", {"lr": "fast"}, "train.lr"),
    ("data", {"train": "one.csv"}, "data.train"),
    ("model", {"pretrained_path": 3}, "model.pretrained_path"),
    ("train", "not a mapping", "train"),
])
def test_wrong_type_is_rejected_with_its_path(section, values, where):
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_config(base=_base(**{section: values}))


@pytest.mark.parametrize("section, values", [
    ("train", {"optimizer": "rmsprop"}),
    ("model", {"preset": "huge"}),
    ("train", {"amp": "fp8"}),
])
def test_bad_choice_lists_the_choices(section, values):
    with pytest.raises(ConfigError, match="is not one of"):
        load_config(base=_base(**{section: values}))


def test_bad_choice_inside_coupling():
    with pytest.raises(ConfigError, match=r"coupling\[0\]\.distribution_matching\.grad_to.*'both'"):
        load_config(base=_base(coupling=[{"distribution_matching": {"grad_to": "au"}}]))


def test_missing_required_task_fields():
    with pytest.raises(ConfigError, match=r"tasks\[0\].*missing required key.*kind"):
        load_config(base={"tasks": [{"name": "expr"}]})
    with pytest.raises(ConfigError, match="at least one task"):
        load_config(base={})


def test_bad_task_labels_and_duplicate_names():
    with pytest.raises(ConfigError, match="tasks.expr"):
        load_config(base={"tasks": [{"name": "expr", "kind": "multiclass", "labels": "@emotions"}]})
    with pytest.raises(ConfigError, match="unique"):
        load_config(base={"tasks": [AFFECT["tasks"][0], AFFECT["tasks"][0]]})
    with pytest.raises(ConfigError, match="loss"):
        load_config(base={"tasks": [{"name": "au", "kind": "multilabel", "labels": "@aus", "loss": "ccc"}]})


def test_labels_by_count():
    cfg = load_config(base={"tasks": [{"name": "id", "kind": "multiclass", "labels": {"count": 3, "prefix": "id"}}]})
    assert cfg.task_specs()[0].labels == ("id0", "id1", "id2")


def test_overrides_are_yaml_parsed_and_reach_nested_and_list_entries():
    cfg = load_config(base=_base(), overrides=[
        "train.lr=0.01", "train.epochs=3", "train.progress=false", "model.widths=[8, 16]",
        "tasks.1.weight=2", "data.train=[a.csv, b.csv]", "name=run one"])
    assert cfg.train.lr == 0.01 and cfg.train.epochs == 3 and cfg.train.progress is False
    assert cfg.model.widths == [8, 16]
    assert cfg.tasks[1].weight == 2.0 and isinstance(cfg.tasks[1].weight, float)
    assert cfg.data.train == ["a.csv", "b.csv"] and cfg.name == "run one"


def test_scientific_notation_floats_are_accepted():
    # PyYAML reads `1e-4` (no dot) as a string; the paper's learning rate must still load.
    cfg = load_config(base=_base(), overrides=["train.lr=1e-4", "train.weight_decay=5E-4"])
    assert cfg.train.lr == pytest.approx(1e-4) and cfg.train.weight_decay == pytest.approx(5e-4)
    with pytest.raises(ConfigError, match="train.lr"):
        load_config(base=_base(), overrides=["train.lr=1e-4x"])


@pytest.mark.parametrize("override, match", [
    ("train.lr", "KEY=VALUE"),
    ("train.lr.value=1", "not a section"),
    ("tasks.7.weight=2", "not an index"),
    ("tasks.first.weight=2", "not an index"),
    ("train.lrr=0.1", "lrr"),
])
def test_bad_overrides_are_config_errors(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(base=_base(train={"lr": 0.1}), overrides=[override])


def test_coupling_must_name_tasks_of_the_right_kinds():
    with pytest.raises(ConfigError, match=r"coupling\[0\]\.multiclass.*'au'"):
        load_config(base=_base(coupling=[{"multiclass": "au", "multilabel": "au"}]))
    with pytest.raises(ConfigError, match=r"coupling\[0\]\.multilabel.*'va'"):
        load_config(base=_base(coupling=[{"multiclass": "expr", "multilabel": "va"}]))
    with pytest.raises(ConfigError, match=r"coupling\[0\]\.multiclass.*'emotion'"):
        load_config(base=_base(coupling=[{"multiclass": "emotion"}]))
    cfg = load_config(base=_base(coupling=[{"soft_coannotation": {"enabled": True, "form": "kl"}}]))
    assert cfg.coupling[0].soft_coannotation.form == "kl" and cfg.coupling[0].multilabel == "au"


def test_select_metric_format_is_checked_at_load_time():
    assert load_config(base=_base(train={"select_metric": "rafdb/expr/accuracy"})).train.select_metric
    for bad in ("accuracy", "rafdb/accuracy", "rafdb//accuracy"):
        with pytest.raises(ConfigError, match="train.select_metric"):
            load_config(base=_base(train={"select_metric": bad}))


def test_label_sets_become_typed_entries():
    cfg = load_config(base=_base(data={"label_sets": [
        {"name": "au_set", "databases": ["bp4d"], "batch_size": 200},
        {"name": "va_set", "databases": ["affwild2"]}]}))
    assert cfg.data.label_sets == [LabelSetConfig("au_set", ["bp4d"], 200), LabelSetConfig("va_set", ["affwild2"])]
    with pytest.raises(ConfigError, match=r"data\.label_sets\[0\].*'databases'"):
        load_config(base=_base(data={"label_sets": [{"name": "x", "database": ["a"]}]}))
    with pytest.raises(ConfigError, match="data.label_sets"):
        load_config(base=_base(data={"label_sets": "manual"}))


def test_yaml_file_round_trip(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(_base(name="x", train={"lr": 0.5}, coupling=[{}])))
    cfg = load_config(path, overrides=["train.epochs=2"])
    again = config_from_yaml_text(config_to_yaml(cfg))
    assert again == cfg


def test_missing_or_invalid_yaml_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


SHIPPED = sorted((REPO / "configs").glob("**/*.yaml")) or [
    pytest.param(None, marks=pytest.mark.skip(reason="no configs/*.yaml in the repository yet"))]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: getattr(p, "name", "none"))
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.tasks


def test_run_dir_defaults_to_runs_name():
    cfg = load_config(base=_base(name="abc"))
    assert cfg.run_dir() == Path("runs/abc")
    assert load_config(base=_base(out_dir="/tmp/x")).run_dir() == Path("/tmp/x")


def test_cache_dir_needs_the_memory_cache():
    with pytest.raises(ConfigError, match="data.cache_dir.*data.cache: memory"):
        load_config(base=_base(data={"cache_dir": "/tmp/decoded"}))
    cfg = load_config(base=_base(data={"cache": "memory", "cache_dir": "/tmp/decoded"}))
    assert cfg.data.cache_dir == "/tmp/decoded"


@pytest.mark.parametrize("override, message", [
    ("train.epochs=0", "train.epochs: 0 is out of range; valid: >= 1"),
    ("train.epochs=-3", "train.epochs: -3 is out of range; valid: >= 1"),
    ("data.batch_size=0", "data.batch_size: 0 is out of range; valid: >= 1"),
    ("train.eval_every=0", "train.eval_every: 0 is out of range; valid: >= 1"),
    ("train.log_every=0", "train.log_every: 0 is out of range; valid: >= 1"),
    ("train.checkpoint_every=-1", "train.checkpoint_every: -1 is out of range; valid: >= 0"),
    ("train.lr=-0.1", "train.lr: -0.1 is out of range; valid: > 0"),
    ("train.lr=0", "train.lr: 0.0 is out of range; valid: > 0"),
    ("train.lr=.nan", "train.lr: nan is out of range; valid: > 0"),
    ("train.lr=.inf", "train.lr: inf is out of range; valid: > 0"),
    ("train.momentum=-0.5", "train.momentum: -0.5 is out of range; valid: >= 0 and < 1"),
    ("train.momentum=1", "train.momentum: 1.0 is out of range; valid: >= 0 and < 1"),
    ("train.weight_decay=-1e-4", "train.weight_decay: -0.0001 is out of range; valid: >= 0"),
    ("train.max_steps=0", "train.max_steps: 0 is out of range; valid: >= 1"),
    ("train.gamma=0", "train.gamma: 0.0 is out of range; valid: > 0 and <= 1"),
    ("train.threads=0", "train.threads: 0 is out of range; valid: >= 1"),
    ("train.seed=-1", "train.seed: -1 is out of range; valid: >= 0"),
    ("data.num_workers=-1", "data.num_workers: -1 is out of range; valid: >= 0"),
    ("data.image_size=0", "data.image_size: 0 is out of range; valid: >= 8"),
    ("data.augment.rotate_deg=-5", "data.augment.rotate_deg: -5.0 is out of range; valid: >= 0 and <= 180"),
    ("data.augment.brightness=2", "data.augment.brightness: 2.0 is out of range; valid: >= 0 and <= 1"),
    ("data.augment.contrast=-0.1", "data.augment.contrast: -0.1 is out of range; valid: >= 0 and <= 1"),
    ("data.augment.translate=1.5", "data.augment.translate: 1.5 is out of range; valid: >= 0 and <= 1"),
    ("data.augment.scale=[0, 1.1]", "data.augment.scale: item 0 of [0, 1.1] is out of range; valid: > 0"),
    ("data.augment.scale=[0.9]", "data.augment.scale: [0.9] must have 2 items"),
    ("data.augment.scale=[1.2, 0.8]", "data.augment.scale: [1.2, 0.8]; valid: [low, high] with 0 < low <= high"),
    ("data.label_sets=[{name: a, databases: [x], batch_size: 0}]",
     "data.label_sets[0].batch_size: 0 is out of range; valid: >= 1"),
    ("model.dropout=1", "model.dropout: 1.0 is out of range; valid: >= 0 and < 1"),
    ("model.widths=[8, 0]", "model.widths: item 0 of [8, 0] is out of range; valid: >= 1"),
    ("model.widths=[8, x]", "model.widths: item 'x' of [8, 'x'] is not a number; valid: >= 1"),
    ("model.stem_stride=0", "model.stem_stride: 0 is out of range; valid: >= 1"),
    ("tasks.0.weight=-1", "tasks[0].weight: -1.0 is out of range; valid: >= 0"),
    ("tasks.2.range=[1, -1]", "tasks[2].range: [1, -1]; valid: [low, high] with low < high"),
    ("tasks.2.range=[-1, .inf]", "tasks[2].range: item inf of [-1, inf] is out of range; valid: a finite number"),
    ("coupling=[{soft_coannotation: {weight: -2}}]",
     "coupling[0].soft_coannotation.weight: -2.0 is out of range; valid: >= 0"),
    ("coupling=[{distribution_matching: {weight: -2}}]",
     "coupling[0].distribution_matching.weight: -2.0 is out of range; valid: >= 0"),
    ("coupling=[{coannotation: {weight: -2}}]", "coupling[0].coannotation.weight: -2.0 is out of range; valid: >= 0"),
    ("eval.batch_size=0", "eval.batch_size: 0 is out of range; valid: >= 1"),
    ("data.augment.erase=1.5", "data.augment.erase: 1.5 is out of range; valid: >= 0 and <= 1"),
    ("data.augment.erase_area=[0, 0.2]",
     "data.augment.erase_area: item 0 of [0, 0.2] is out of range; valid: > 0 and <= 1"),
    ("data.augment.erase_area=[0.3, 0.2]",
     "data.augment.erase_area: [0.3, 0.2]; valid: [low, high] with 0 < low <= high <= 1"),
    ("train.ema_decay=1", "train.ema_decay: 1.0 is out of range; valid: >= 0 and < 1"),
    ("eval.median_filter=-1", "eval.median_filter: -1 is out of range; valid: >= 0"),
    ("train.device=gpu", "train.device: 'gpu'; valid: auto, cpu, cuda, cuda:N, mps"),
    ("train.epochs=true", "train.epochs: expected a number, got True"),
])
def test_out_of_range_values_are_one_line_naming_field_value_and_range(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(base=_base(), overrides=[override])
    assert str(err.value) == message


def test_range_boundaries_are_accepted():
    cfg = load_config(base=_base(), overrides=[
        "train.epochs=1", "data.batch_size=1", "train.eval_every=1", "train.log_every=1", "train.checkpoint_every=0",
        "train.momentum=0", "train.weight_decay=0", "train.gamma=1", "data.num_workers=0", "data.image_size=8",
        "model.dropout=0", "data.augment.scale=[1, 1]", "data.augment.rotate_deg=180", "tasks.0.weight=0",
        "train.lr=1e-9", "train.device=cuda:1", "train.threads=null", "train.max_steps=null"])
    assert cfg.train.epochs == 1 and cfg.data.batch_size == 1 and cfg.train.threads is None


def test_range_table_names_real_fields_and_tolerates_unlisted_ones():
    import dataclasses

    from facebehavior import config

    classes = {c.__name__: c for c in vars(config).values() if dataclasses.is_dataclass(c) and isinstance(c, type)}
    for key in list(config._RANGES) + list(config._LENGTHS):
        cls, name = key.split(".")
        assert name in {f.name for f in dataclasses.fields(classes[cls])}, key
    assert "name" not in config._RANGES and load_config(base=_base(name="no range")).name == "no range"


@pytest.mark.parametrize("override", ["train.lr=[1,", "train.lr={a: 1", "name='unclosed", "train.lr=[1, 2]]"])
def test_malformed_override_value_is_a_config_error_not_a_yaml_traceback(override):
    with pytest.raises(ConfigError, match=r"override .*not valid YAML"):
        load_config(base=_base(), overrides=[override])


def test_overrides_do_not_write_into_the_callers_base_dict():
    base = _base()
    load_config(base=base, overrides=["tasks.0.weight=3", "train.lr=0.5"])
    assert base == _base()


def test_yaml_file_that_is_not_a_mapping_or_not_utf8(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(listed)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin)
    with pytest.raises(ConfigError, match="not valid YAML"):
        config_from_yaml_text("tasks: [\n")


def test_coupling_options_of_issue_16_are_validated():
    cfg = load_config(base=_base(coupling=[{"distribution_matching": {"unlinked": "keep"},
                                            "soft_coannotation": {"temperature": 0.25}}]))
    assert cfg.coupling[0].distribution_matching.unlinked == "keep"
    assert cfg.coupling[0].soft_coannotation.temperature == 0.25
    dm = load_config(base=_base(coupling=[{}])).coupling[0].distribution_matching
    assert (dm.form, dm.grad_to, dm.unlinked) == ("bernoulli", "multiclass", "drop")  # docs/coupling.md: why
    with pytest.raises(ConfigError, match=r"distribution_matching\.unlinked.*'drop'"):
        load_config(base=_base(coupling=[{"distribution_matching": {"unlinked": "zero"}}]))
    with pytest.raises(ConfigError, match=r"soft_coannotation\.temperature"):
        load_config(base=_base(coupling=[{"soft_coannotation": {"temperature": 0}}]))


def test_a_packaged_config_loads_by_name_from_anywhere(tmp_path, monkeypatch):
    from facebehavior.config import load_config, packaged_configs

    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert {"paper_affect", "paper_celeba", "ferplus", "ferplus_gpu"} <= set(packaged_configs())
    assert load_config("paper_affect").name == load_config("paper_affect.yaml").name
    with pytest.raises(ConfigError, match="packaged configs, usable by name: .*paper_affect"):
        load_config("paper_afect")


def test_a_median_filter_in_evaluation_is_refused_rather_than_ignored():
    from facebehavior.config import load_config
    from facebehavior.errors import ConfigError

    assert load_config("paper_affect", ["eval.median_filter=0"]).eval.median_filter == 0
    with pytest.raises(ConfigError, match="eval.median_filter: 5; evaluation does not median-filter.*analyze --median"):
        load_config("paper_affect", ["eval.median_filter=5"])
