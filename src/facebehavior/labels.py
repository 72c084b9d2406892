"""Canonical label spaces and task declarations.

The affect study uses three tasks (7 expressions, 17 AUs, valence/arousal); the CelebA study uses
identities and 40 attributes. Both are `TaskSpec` lists; nothing else in the code base assumes
which tasks exist.

Manifest columns follow from a task declaration (see `TaskSpec.columns`):
- multiclass task ``expr``: an integer column ``expr`` (class index, null = unlabelled) and,
  optionally, soft-label columns ``expr_soft_<label>`` (a probability vector, null = none);
- multilabel task ``au``: one 0/1 column per label (``au1``, ``au2``, ...), null = not annotated;
- regression task ``va``: one float column per label (``valence``, ``arousal``), null = unlabelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXPRESSIONS: tuple[str, ...] = ("neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise")
AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)
AU_NAMES: tuple[str, ...] = tuple(f"au{n}" for n in AUS)
VA_NAMES: tuple[str, ...] = ("valence", "arousal")

# The 40 CelebA attributes in the order of list_attr_celeba.txt.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)

TASK_KINDS = ("multiclass", "multilabel", "regression")
DEFAULT_LOSS = {"multiclass": "cross_entropy", "multilabel": "bce", "regression": "ccc"}
VALID_LOSSES = {"multiclass": ("cross_entropy",), "multilabel": ("bce",), "regression": ("ccc", "mse")}

# Named label spaces that a config may refer to as "@name".
LABEL_SPACES: dict[str, tuple[str, ...]] = {
    "expressions": EXPRESSIONS,
    "aus": AU_NAMES,
    "va": VA_NAMES,
    "celeba_attributes": CELEBA_ATTRIBUTES,
}


@dataclass(frozen=True)
class TaskSpec:
    """One output task of the network: its kind, label names, loss and weight λ."""

    name: str
    kind: str
    labels: tuple[str, ...]
    loss: str = ""
    weight: float = 1.0
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name!r}: kind {self.kind!r} is not one of {TASK_KINDS}")
        if not self.labels:
            raise ValueError(f"task {self.name!r}: needs at least one label")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"task {self.name!r}: label names repeat")
        if not self.loss:
            object.__setattr__(self, "loss", DEFAULT_LOSS[self.kind])
        if self.loss not in VALID_LOSSES[self.kind]:
            raise ValueError(
                f"task {self.name!r}: loss {self.loss!r} does not fit kind {self.kind!r}; "
                f"valid: {VALID_LOSSES[self.kind]}"
            )
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def size(self) -> int:
        """Number of network outputs (logits) this task needs."""
        return len(self.labels)

    @property
    def columns(self) -> tuple[str, ...]:
        """The manifest columns holding this task's hard labels."""
        return (self.name,) if self.kind == "multiclass" else self.labels

    @property
    def soft_columns(self) -> tuple[str, ...]:
        """Optional soft-label columns (multiclass only)."""
        return tuple(f"{self.name}_soft_{lab}" for lab in self.labels) if self.kind == "multiclass" else ()


def resolve_labels(spec) -> tuple[str, ...]:
    """Labels given as a list, as ``"@expressions"``, or as ``{"count": N, "prefix": "id"}``."""
    if isinstance(spec, str):
        if not spec.startswith("@") or spec[1:] not in LABEL_SPACES:
            raise ValueError(f"labels {spec!r}: use a list or one of {['@' + k for k in LABEL_SPACES]}")
        return LABEL_SPACES[spec[1:]]
    if isinstance(spec, dict):
        count, prefix = int(spec["count"]), str(spec.get("prefix", "class"))
        return tuple(f"{prefix}{i}" for i in range(count))
    return tuple(str(s) for s in spec)


def affect_tasks(weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> list[TaskSpec]:
    """The paper's affect study: 7 expressions, 17 AUs, valence/arousal (eq. 2)."""
    return [
        TaskSpec("expr", "multiclass", EXPRESSIONS, weight=weights[0]),
        TaskSpec("au", "multilabel", AU_NAMES, weight=weights[1]),
        TaskSpec("va", "regression", VA_NAMES, weight=weights[2], extra={"range": (-1.0, 1.0)}),
    ]
