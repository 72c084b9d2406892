"""Typed experiment configs: YAML + `--set a.b=value` overrides, strictly validated.

Unknown keys are rejected with the list of valid ones (as mmengine does), so a typo never turns
into a silently ignored setting. The resolved config is saved in every checkpoint.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec, resolve_labels


@dataclass
class TaskConfig:
    name: str  # the task's name: its head, its label columns' prefix (`expr`, `au_*`, `va_*`) and its output columns
    kind: str  # multiclass (softmax), multilabel (sigmoids) or regression
    labels: Any = None  # its labels: a list, or a registry name such as "@expressions", "@aus17", "@va"
    loss: str = ""  # empty: the kind's default (cross_entropy, bce, ccc); regression also takes mse
    weight: float = 1.0  # λ_t, the task loss's weight in the total
    range: list | None = None  # regression: [low, high] that predictions are clamped to
    output: bool = True  # `analyze` writes its columns; false for a head that only serves a protocol

    def spec(self) -> TaskSpec:
        extra = {"range": tuple(self.range)} if self.range else {}
        if not self.output:
            extra["output"] = False
        try:
            return TaskSpec(self.name, self.kind, resolve_labels(self.labels), self.loss, self.weight, extra)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"tasks.{self.name}: {exc}") from None


@dataclass
class AugmentConfig:
    enabled: bool = True  # false: training images are used as they are
    flip: bool = True  # mirror half the images at random
    scale: list = field(default_factory=lambda: [0.9, 1.1])  # [low, high] random zoom of the crop
    rotate_deg: float = 10.0  # random rotation, up to this many degrees either way
    translate: float = 0.05  # random shift, up to this share of the image size
    brightness: float = 0.2  # random brightness change, up to this share
    contrast: float = 0.2  # random contrast change, up to this share
    grayscale: bool = False  # the model sees gray images (R = G = B), in training and in `analyze`
    erase: float = 0.0  # random erasing (Zhong et al. 2020): the share of images with a rectangle blanked
    erase_area: list = field(default_factory=lambda: [0.02, 0.25])  # its area, as a share of the image


@dataclass
class LabelSetConfig:
    name: str  # the label set's name, shown in logs
    databases: list = field(default_factory=list)  # the databases whose rows form this set's batch
    batch_size: int | None = None  # its rows in each step's concatenated batch (None: a share of data.batch_size)


@dataclass
class DataConfig:
    train: list = field(default_factory=list)  # manifests (CSV or Parquet) whose `train` rows train
    val: list = field(default_factory=list)  # manifests whose `val` rows select the model (empty: the train manifests)
    test: list = field(default_factory=list)  # manifests whose `test` rows `evaluate` scores (empty: the train manifests)
    root: str | None = None  # folder that relative image paths in the manifests start from
    databases: list = field(default_factory=list)  # keep only these databases' rows (empty: all)
    image_size: int = 112  # the network's input size in pixels (square)
    crop: str = "arcface"  # the landmark template the training crops follow (models/preprocessing.py)
    label_sets: Any = "auto"  # auto: one set per combination of tasks that rows carry; or a list of label-set entries
    # how a set without a given batch size gets its share: in proportion to its rows (every set is used
    # up in the same number of steps) or equal (each the same share, small sets repeat more often).
    # Proportional stays the default: equal shares helped expressions and valence at the demo's budget
    # but lowered arousal, on one seed (docs/results.md, e08 vs e04).
    label_set_shares: str = "rows"
    batch_size: int = 376  # images per step, all label sets together
    cache: str = "none"  # memory: decode each image once and keep it (small datasets)
    cache_dir: str | None = None  # with cache "memory": keep decoded images here for later runs
    num_workers: int = 2  # data-loading processes (0: in the training process)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # training-time augmentation
    allow_split_overlap: bool = False  # an image in train and in val/test is an error (leakage) unless true


@dataclass
class ModelConfig:
    backbone: str = "fbn"  # fbn (FaceBehaviorNet), or timm:NAME for any timm model used headless (also bare resnet50, ...)
    preset: str = "paper"  # fbn's size: tiny, small, or paper (the paper's ResNet-18-like network)
    widths: list | None = None  # fbn: the four stages' channels, instead of the preset's
    depths: list | None = None  # fbn: the four stages' block counts, instead of the preset's
    stem_stride: int | None = None  # fbn: the stem's stride (None: the preset's; 1 keeps small inputs' detail)
    dropout: float = 0.0  # dropout before the heads
    pretrained: bool = False  # timm backbones: start from pretrained weights (needs pretrained_path)
    pretrained_path: str | None = None  # a local .safetensors file of timm weights (nothing is downloaded)
    members: int = 1  # > 1: an ensemble of this many networks of this shape, their logits averaged


@dataclass
class CoAnnotationConfig:
    enabled: bool = False  # co-annotation (section 3.1.2): labels filled in from the relatedness table
    weight: float = 1.0  # what a filled-in label counts in the task losses (0: as if off, 1: the paper)
    observational: str = "weighted"  # an observational link's label counts its weight w (weighted) or 1 (binary)


@dataclass
class SoftCoAnnotationConfig:
    enabled: bool = False  # soft co-annotation (eq. 5-7): expression targets derived from the AU labels
    weight: float = 1.0  # the term's weight in the total
    form: str = "paper"  # paper: eq. 7 as written (linear in p); kl: KL(q || p), minimised at p = q (docs/coupling.md)
    weighting: str = "weighted"  # eq. 5 uses the links' weights w (weighted) or 1 for every link (binary)
    neutral: str = "zero"  # neutral's score: 0 as eq. 5 gives it (zero) or 1 - max_a I(a) (complement)
    temperature: float = 1.0  # eq. 6 as softmax(I / T); 1 = the paper (nearly uniform targets)


@dataclass
class DistributionMatchingConfig:
    enabled: bool = False  # distribution matching (eq. 3-4): the AU predictions implied by the expression ones
    weight: float = 1.0  # the term's weight in the total
    # bernoulli / multiclass / drop: the B predictions teach A and are never lowered by the term
    # (docs/coupling.md, benchmarks/dm_optimum.py); eq. 4 as written is paper / both / keep
    form: str = "bernoulli"
    relatedness_mode: str = "binary"  # every link weighs 1 (binary, eq. 3) or its weight w (weighted)
    grad_to: str = "multiclass"  # which head the term trains: multiclass, multilabel or both
    unlinked: str = "drop"  # B labels no A class links to: left out (drop) or in eq. 4's sum (keep)


@dataclass
class CouplingConfig:
    multiclass: str = "expr"  # the softmax task A of the pair
    multilabel: str = "au"  # the multi-label task B of the pair
    relatedness: str = "du2014"  # A → B table: du2014, affwild2_empirical, a CSV file, or estimate (from the training rows)
    coannotation: CoAnnotationConfig = field(default_factory=CoAnnotationConfig)  # hard labels across the pair
    soft_coannotation: SoftCoAnnotationConfig = field(default_factory=SoftCoAnnotationConfig)  # B labels → soft A targets
    distribution_matching: DistributionMatchingConfig = field(default_factory=DistributionMatchingConfig)  # A predictions ↔ B


@dataclass
class TrainConfig:
    epochs: int = 10  # passes over the training rows (an epoch: the steps that use up the label set needing most)
    max_steps: int | None = None  # stop after this many steps, whatever the epochs
    optimizer: str = "sgd"  # sgd, adam or adamw
    lr: float = 1e-4  # the peak learning rate
    momentum: float = 0.9  # sgd's momentum
    weight_decay: float = 0.0  # L2 (sgd, adam) or decoupled (adamw) weight decay
    schedule: str = "none"  # learning rate after warm-up: constant (none), cosine to 0, or step
    warmup_steps: int = 0  # linear warm-up to lr over this many steps
    step_size: int = 10  # schedule step: optimiser steps between decays (counted after warm-up)
    gamma: float = 0.1  # schedule step: the factor of each decay
    grad_clip: float = 0.0  # clip the gradient's global norm to this (0: off)
    amp: str = "none"  # mixed precision on GPUs: bf16 or fp16 (with loss scaling); none on CPU
    device: str = "auto"  # auto (a GPU when there is one), cpu, cuda, cuda:N or mps
    seed: int = 0  # seeds initial weights, data order and augmentation: the same seed gives the same run
    log_every: int = 20  # steps between lines of log.jsonl
    eval_every: int = 1  # epochs between validations (the last epoch is always validated)
    checkpoint_every: int = 0  # steps between resumable `last` checkpoints inside an epoch (0: at epoch ends only)
    select_metric: str = "mean_primary"  # the validation score that picks `best`: mean_primary or DATABASE/TASK/METRIC
    progress: bool = True  # a progress bar per epoch (the recipes print one line per epoch instead)
    threads: int | None = None  # CPU threads for torch (None: torch's default)
    ema_decay: float = 0.0  # > 0: validate and ship an exponential moving average of the weights
    channels_last: bool = True   # NHWC convolutions: ~1.5x faster on CPU, the fast path for AMP on GPUs
    reuse_freed_memory: bool = True  # glibc: reuse freed host memory, not page-fault it in every step (training/memory.py)
    balancing: str = "none"  # task balancing (losses/balancing.py): uncertainty weighting, or PCGrad's gradient surgery
    balancing_lr: float | None = None  # uncertainty: the log-variances' learning rate (None: train.lr)
    mixup: float = 0.0  # > 0: mixup's Beta(α, α) parameter; images are blended with a partner that labels the same tasks (training/mixup.py)
    label_smoothing: float = 0.0  # ε: every multiclass target becomes (1 − ε)·target + ε/K


@dataclass
class EvalConfig:
    batch_size: int = 256  # images per forward pass in validation and evaluation
    tune_thresholds: bool = True  # multilabel: each label's decision threshold tuned on validation (else 0.5)
    median_filter: int = 0  # reserved: must be 0 (evaluation does not smooth videos; `analyze --median` does)
    flip_average: bool = False  # predictions average the crop's and its mirror image's outputs
    protocols: dict = field(default_factory=dict)  # database → {task: primary metric}, over the registry


@dataclass
class ExperimentConfig:
    name: str = "experiment"  # the run's name (default folder runs/NAME)
    out_dir: str | None = None  # where the run writes checkpoints, logs and reports (None: runs/NAME)
    tasks: list = field(default_factory=list)  # the tasks the network predicts (a list of task entries)
    data: DataConfig = field(default_factory=DataConfig)  # manifests, batches, augmentation
    model: ModelConfig = field(default_factory=ModelConfig)  # backbone and its size
    coupling: list = field(default_factory=list)  # task pairs coupled through their relatedness (a list of coupling entries)
    train: TrainConfig = field(default_factory=TrainConfig)  # optimiser, schedule, checkpoints, model selection
    eval: EvalConfig = field(default_factory=EvalConfig)  # validation and evaluation

    def task_specs(self) -> list[TaskSpec]:
        return [t.spec() for t in self.tasks]

    def run_dir(self) -> Path:
        return Path(self.out_dir or f"runs/{self.name}")

    def to_dict(self) -> dict:
        return asdict(self)


# The element types of list fields that hold nested configs.
_LIST_ITEMS = {("ExperimentConfig", "tasks"): TaskConfig, ("ExperimentConfig", "coupling"): CouplingConfig,
               ("DataConfig", "label_sets"): LabelSetConfig}
# List fields that may instead hold one of these strings.
_LIST_OR = {("DataConfig", "label_sets"): ("auto",)}
_CHOICES = {
    "TaskConfig.kind": ("multiclass", "multilabel", "regression"),
    "DataConfig.cache": ("none", "memory"),
    "DataConfig.crop": ("arcface", "fer2013"),
    "ModelConfig.preset": ("tiny", "small", "paper"),
    "CoAnnotationConfig.observational": ("weighted", "binary"),
    "SoftCoAnnotationConfig.form": ("paper", "kl"),
    "SoftCoAnnotationConfig.weighting": ("weighted", "binary"),
    "SoftCoAnnotationConfig.neutral": ("zero", "complement"),
    "DistributionMatchingConfig.form": ("paper", "bernoulli"),
    "DistributionMatchingConfig.relatedness_mode": ("binary", "weighted"),
    "DistributionMatchingConfig.grad_to": ("both", "multiclass", "multilabel"),
    "DistributionMatchingConfig.unlinked": ("drop", "keep"),
    "DataConfig.label_set_shares": ("rows", "equal"),
    "TrainConfig.optimizer": ("sgd", "adamw", "adam"),
    "TrainConfig.schedule": ("none", "cosine", "step"),
    "TrainConfig.amp": ("none", "bf16", "fp16"),
    "TrainConfig.balancing": ("none", "uncertainty", "pcgrad"),
}
# Valid ranges, in interval notation ("[1, inf)": at least 1; "(0, 1]": above 0, at most 1), checked
# when a config is loaded; for a list field, on each item. A field not listed here is not range-checked.
_RANGES = {
    "TaskConfig.weight": "[0, inf)",
    "TaskConfig.range": "(-inf, inf)",
    "AugmentConfig.scale": "(0, inf)",
    "AugmentConfig.rotate_deg": "[0, 180]",
    "AugmentConfig.translate": "[0, 1]",
    "AugmentConfig.brightness": "[0, 1]",
    "AugmentConfig.contrast": "[0, 1]",
    "AugmentConfig.erase": "[0, 1]",
    "AugmentConfig.erase_area": "(0, 1]",
    "LabelSetConfig.batch_size": "[1, inf)",
    "DataConfig.image_size": "[8, inf)",
    "DataConfig.batch_size": "[1, inf)",
    "DataConfig.num_workers": "[0, inf)",
    "ModelConfig.widths": "[1, inf)",
    "ModelConfig.depths": "[1, inf)",
    "ModelConfig.stem_stride": "[1, inf)",
    "ModelConfig.dropout": "[0, 1)",
    "ModelConfig.members": "[1, inf)",
    "CoAnnotationConfig.weight": "[0, inf)",
    "SoftCoAnnotationConfig.weight": "[0, inf)",
    "SoftCoAnnotationConfig.temperature": "(0, inf)",
    "DistributionMatchingConfig.weight": "[0, inf)",
    "TrainConfig.epochs": "[1, inf)",
    "TrainConfig.max_steps": "[1, inf)",
    "TrainConfig.lr": "(0, inf)",
    "TrainConfig.momentum": "[0, 1)",
    "TrainConfig.weight_decay": "[0, inf)",
    "TrainConfig.warmup_steps": "[0, inf)",
    "TrainConfig.step_size": "[1, inf)",
    "TrainConfig.gamma": "(0, 1]",
    "TrainConfig.grad_clip": "[0, inf)",
    "TrainConfig.seed": "[0, inf)",
    "TrainConfig.log_every": "[1, inf)",
    "TrainConfig.eval_every": "[1, inf)",
    "TrainConfig.checkpoint_every": "[0, inf)",
    "TrainConfig.threads": "[1, inf)",
    "TrainConfig.ema_decay": "[0, 1)",
    "TrainConfig.balancing_lr": "(0, inf)",
    "TrainConfig.mixup": "[0, inf)",
    "TrainConfig.label_smoothing": "[0, 1)",
    "EvalConfig.batch_size": "[1, inf)",
    "EvalConfig.median_filter": "[0, inf)",
}
# List fields of a fixed length (checked with the ranges).
_LENGTHS = {"TaskConfig.range": 2, "AugmentConfig.scale": 2, "AugmentConfig.erase_area": 2}


def _check_range(value, interval: str, where: str) -> None:
    """Raise ConfigError unless `value` (or each item of a list) lies in `interval`; None passes."""
    if value is None:
        return
    lo_text, hi_text = (part.strip() for part in interval[1:-1].split(","))
    lo, hi, closed_lo, closed_hi = float(lo_text), float(hi_text), interval[0] == "[", interval[-1] == "]"
    valid = " and ".join([f"{'>=' if closed_lo else '>'} {lo_text}"] * (lo > -math.inf) +
                         [f"{'<=' if closed_hi else '<'} {hi_text}"] * (hi < math.inf)) or "a finite number"
    for item in value if isinstance(value, list) else [value]:
        what = f"item {item!r} of {value!r}" if isinstance(value, list) else repr(item)
        if not isinstance(item, (int, float)) or isinstance(item, bool):
            raise ConfigError(f"{where}: {what} is not a number; valid: {valid}")
        if not ((lo <= item if closed_lo else lo < item) and (item <= hi if closed_hi else item < hi)):
            raise ConfigError(f"{where}: {what} is out of range; valid: {valid}")


_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _check_type(value, annotation, where: str):
    origin = typing.get_origin(annotation)
    if annotation is Any or value is None and (origin in (typing.Union, types.UnionType)):
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, where)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: {value!r} has the wrong type (expected {annotation})")
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)  # PyYAML (YAML 1.1) reads `1e-4` as a string
    if annotation is list or origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return list(value)
    if annotation in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if isinstance(annotation, type) and not isinstance(value, annotation):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass `cls` from a dict, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {unknown}; valid keys: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        here = f"{where}.{name}" if where else name
        hint = hints[name]
        item_cls = _LIST_ITEMS.get((cls.__name__, name))
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            kwargs[name] = from_dict(hint, value or {}, here)
        elif item_cls is not None and value in _LIST_OR.get((cls.__name__, name), ()):
            kwargs[name] = value
        elif item_cls is not None:
            if not isinstance(value, list):
                raise ConfigError(f"{here}: expected a list of mappings")
            kwargs[name] = [from_dict(item_cls, v, f"{here}[{i}]") for i, v in enumerate(value)]
        else:
            kwargs[name] = _check_type(value, hint, here)
        choices = _CHOICES.get(f"{cls.__name__}.{name}")
        if choices and kwargs[name] not in choices:
            raise ConfigError(f"{here}: {kwargs[name]!r} is not one of {list(choices)}")
        length = _LENGTHS.get(f"{cls.__name__}.{name}")
        if length and kwargs[name] is not None and len(kwargs[name]) != length:
            raise ConfigError(f"{here}: {kwargs[name]!r} must have {length} items")
        if f"{cls.__name__}.{name}" in _RANGES:
            _check_range(kwargs[name], _RANGES[f"{cls.__name__}.{name}"], here)
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where or cls.__name__}: missing required key(s) {missing}")
    return cls(**kwargs)


def apply_override(data: dict, assignment: str) -> None:
    """`train.lr=0.01` → data["train"]["lr"] = 0.01 (value parsed as YAML)."""
    if "=" not in assignment:
        raise ConfigError(f"override {assignment!r}: expected KEY=VALUE, e.g. train.lr=0.01")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = str(getattr(exc, "problem", "") or exc).strip()
        raise ConfigError(f"override {assignment!r}: the value is not valid YAML ({problem}); quote a string, "
                          "write a list as [1, 2]") from None
    node = data
    parts = key.strip().split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[_list_index(node, part, key)]
            continue
        node = node.setdefault(part, {})
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"override {key!r}: {part!r} is not a section")
    if isinstance(node, list):
        node[_list_index(node, parts[-1], key)] = value
    else:
        node[parts[-1]] = value


def _list_index(items: list, part: str, key: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(items) <= int(part) < len(items):
        raise ConfigError(f"override {key!r}: {part!r} is not an index of a list with {len(items)} item(s)")
    return int(part)


PACKAGED_CONFIGS = Path(__file__).resolve().parent / "configs"


def packaged_configs() -> list[str]:
    """Names of the configs shipped in the package (`paper_affect`, `ferplus`, ...)."""
    return sorted(p.stem for p in PACKAGED_CONFIGS.glob("*.yaml"))


def resolve_config_path(path: str | Path) -> Path:
    """A YAML file path, or the name of a packaged config (`paper_affect` or `paper_affect.yaml`)."""
    path = Path(path)
    if path.is_file():
        return path
    packaged = PACKAGED_CONFIGS / (path.name if path.suffix == ".yaml" else f"{path.name}.yaml")
    if path.parent == Path(".") and packaged.is_file():
        return packaged
    raise ConfigError(f"config file {path} does not exist (packaged configs, usable by name: "
                      f"{', '.join(packaged_configs())})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                base: dict | None = None) -> ExperimentConfig:
    """Load a YAML config (a path, or a packaged config's name; or start from `base`), apply
    overrides, validate."""
    data: dict = copy.deepcopy(dict(base or {}))  # overrides must not write into the caller's dict
    if path is not None:
        path = resolve_config_path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of sections (name, tasks, data, ...), "
                              f"got {type(loaded).__name__}")
        data.update(loaded)
    for assignment in overrides or []:
        apply_override(data, assignment)
    cfg = from_dict(ExperimentConfig, data)
    validate_semantics(cfg)
    return cfg


_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def validate_semantics(cfg: ExperimentConfig) -> None:
    """Cross-field checks: tasks exist, coupling pairs name tasks of the right kinds."""
    if not cfg.tasks:
        raise ConfigError("tasks: at least one task must be declared")
    specs = {t.name: t for t in cfg.task_specs()}
    if len(specs) != len(cfg.tasks):
        raise ConfigError("tasks: task names must be unique")
    for i, c in enumerate(cfg.coupling):
        a, b = specs.get(c.multiclass), specs.get(c.multilabel)
        if a is None or a.kind != "multiclass":
            raise ConfigError(f"coupling[{i}].multiclass: {c.multiclass!r} is not a declared multiclass task")
        if b is None or b.kind != "multilabel":
            raise ConfigError(f"coupling[{i}].multilabel: {c.multilabel!r} is not a declared multilabel task")
    if cfg.data.cache_dir and cfg.data.cache != "memory":
        raise ConfigError(f"data.cache_dir is set ({cfg.data.cache_dir!r}) but data.cache is {cfg.data.cache!r}; "
                          "decoded images are only kept with data.cache: memory")
    for i, task in enumerate(cfg.tasks):
        if task.range and not task.range[0] < task.range[1]:
            raise ConfigError(f"tasks[{i}].range: {task.range!r}; valid: [low, high] with low < high")
    scale = cfg.data.augment.scale
    if not scale[0] <= scale[1]:
        raise ConfigError(f"data.augment.scale: {scale!r}; valid: [low, high] with 0 < low <= high")
    area = cfg.data.augment.erase_area
    if not area[0] <= area[1]:
        raise ConfigError(f"data.augment.erase_area: {area!r}; valid: [low, high] with 0 < low <= high <= 1")
    if not _DEVICE.fullmatch(cfg.train.device):
        raise ConfigError(f"train.device: {cfg.train.device!r}; valid: auto, cpu, cuda, cuda:N, mps")
    if cfg.eval.median_filter:
        # the key exists in saved configs (0); until evaluation smooths per video, a non-zero value
        # would be silently ignored
        raise ConfigError(f"eval.median_filter: {cfg.eval.median_filter}; evaluation does not median-filter "
                          "predictions yet (0 is the only valid value). For videos use `facebehavior analyze "
                          "--median W`")
    metric = cfg.train.select_metric
    if metric != "mean_primary" and (metric.count("/") != 2 or not all(metric.split("/"))):
        # checked here: validation would otherwise fail on it only after the first epoch
        raise ConfigError(f"train.select_metric: {metric!r}; use 'mean_primary' or 'DATABASE/TASK/METRIC' "
                          "(e.g. 'rafdb/expr/accuracy')")


def config_to_yaml(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def config_from_yaml_text(text: str) -> ExperimentConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config text is not valid YAML: {exc}") from None
    return from_dict(ExperimentConfig, data)
