"""The synthetic databases of each preset, mirroring the paper's databases.

Sizes are for `scale=1`; `scale` multiplies images and subjects (at least `MIN_SPLIT` images
per split). The expression priors are the latent expression mix a database shows; AU- and
VA-only databases record only their labels, but their faces come from the same process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facebehavior.synthface.nuisance import NuisanceProfile
from facebehavior.errors import ConfigError

MIN_SPLIT = 4
ROLES = ("train", "unseen", "compound", "identity")

DISFA_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
BP4D_AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23)
EMOTIONET_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)
GFT_AUS = (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)


def _prior(neutral, anger, disgust, fear, happiness, sadness, surprise) -> tuple[float, ...]:
    p = (neutral, anger, disgust, fear, happiness, sadness, surprise)
    total = sum(p)
    return tuple(v / total for v in p)


# Latent expression mixes (order: EXPRESSIONS). RAF-DB and AffectNet follow their published
# class counts; the others reflect how the recordings were elicited.
PRIORS = {
    "rafdb": _prior(3204, 867, 877, 355, 5957, 2460, 1619),
    "affectnet": _prior(75, 25, 3.8, 6.4, 134, 25, 14),
    "balanced": _prior(1, 1, 1, 1, 1, 1, 1),
    "wild": _prior(30, 8, 5, 4, 30, 12, 11),
    "spontaneous": _prior(45, 4, 8, 4, 25, 6, 8),
    "elicited": _prior(20, 13, 13, 13, 14, 14, 13),
    "video": _prior(35, 8, 6, 6, 25, 10, 10),
    "movies": _prior(20, 15, 8, 15, 17, 13, 12),
    "social": _prior(45, 4, 4, 4, 35, 4, 4),
}

LAB = NuisanceProfile(roll_std=2.0, yaw_std=0.06, scale=(0.97, 1.03), shift_std=0.01, brightness=(1.05, 0.03),
                      contrast=(0.95, 1.05), light=0.1, blur=(0.0, 0.2), noise=(0.5, 1.5), occlusion=0.0)


@dataclass(frozen=True)
class DatabaseSpec:
    """One synthetic database: what it labels, how big it is and how it looks."""

    name: str
    role: str
    mirrors: str
    tasks: tuple[str, ...]
    metrics: dict[str, str]
    sizes: dict[str, int]
    subjects: dict[str, int]
    nuisance: NuisanceProfile = field(default_factory=NuisanceProfile)
    au_subset: tuple[int, ...] | None = None
    prior: tuple[float, ...] = PRIORS["wild"]
    test_prior: tuple[float, ...] | None = None   # e.g. AffectNet's balanced validation set
    note: str = ""

    def prior_for(self, split: str) -> tuple[float, ...]:
        return self.test_prior if split == "test" and self.test_prior else self.prior

    def scaled(self, scale: float) -> "DatabaseSpec":
        sizes = {k: max(MIN_SPLIT, round(v * scale)) for k, v in self.sizes.items()}
        subjects = {k: max(2, min(sizes[k], round(v * scale))) for k, v in self.subjects.items()}
        return DatabaseSpec(**{**self.__dict__, "sizes": sizes, "subjects": subjects})


def _train(n_train=3000, n_val=300, n_test=800):
    return {"train": n_train, "val": n_val, "test": n_test}


def affect_databases() -> list[DatabaseSpec]:
    wild = NuisanceProfile(roll_std=6.0, yaw_std=0.2, scale=(0.9, 1.08), shift_std=0.03, brightness=(1.0, 0.1),
                           contrast=(0.8, 1.15), light=0.3, blur=(0.0, 0.6), noise=(1.0, 5.0), occlusion=0.05)
    return [
        DatabaseSpec("synth_rafdb", "train", "RAF-DB", ("expr",), {"expr": "mean_diag"}, _train(),
                     {"train": 1500, "val": 150, "test": 400}, wild, prior=PRIORS["rafdb"]),
        DatabaseSpec("synth_affectnet", "train", "AffectNet", ("expr", "va"), {"expr": "accuracy", "va": "ccc"},
                     _train(), {"train": 2000, "val": 200, "test": 500},
                     NuisanceProfile(roll_std=9.0, yaw_std=0.32, scale=(0.85, 1.1), shift_std=0.04,
                                     brightness=(1.0, 0.12), light=0.35, blur=(0.0, 0.7), noise=(1.0, 6.0),
                                     occlusion=0.06),
                     prior=PRIORS["affectnet"], test_prior=PRIORS["balanced"],
                     note="more pose; balanced test set like AffectNet's validation set"),
        DatabaseSpec("synth_affwild", "train", "Aff-Wild", ("va",), {"va": "ccc"}, _train(),
                     {"train": 60, "val": 8, "test": 20},
                     NuisanceProfile(roll_std=7.0, yaw_std=0.25, brightness=(0.8, 0.12), contrast=(0.7, 1.0),
                                     light=0.3, blur=(0.4, 1.1), noise=(3.0, 8.0), occlusion=0.05),
                     prior=PRIORS["video"], note="video frames: darker, blurrier, noisier"),
        DatabaseSpec("synth_disfa", "train", "DISFA", ("au",), {"au": "f1"}, _train(),
                     {"train": 18, "val": 3, "test": 6}, LAB, au_subset=DISFA_AUS, prior=PRIORS["spontaneous"],
                     note="lab: frontal, even light, sharp; few subjects"),
        DatabaseSpec("synth_bp4d", "train", "BP4D", ("au",), {"au": "f1"}, _train(),
                     {"train": 28, "val": 5, "test": 8},
                     NuisanceProfile(roll_std=3.0, yaw_std=0.1, scale=(0.95, 1.05), shift_std=0.015,
                                     brightness=(0.92, 0.04), contrast=(0.9, 1.05), light=0.15, blur=(0.0, 0.3),
                                     noise=(1.0, 2.0), occlusion=0.0, skin_shift=0.15),
                     au_subset=BP4D_AUS, prior=PRIORS["elicited"], note="lab, darker skin tones on average"),
        DatabaseSpec("synth_emotionet", "train", "EmotioNet", ("au",), {"au": "f1"}, _train(),
                     {"train": 2000, "val": 200, "test": 500},
                     NuisanceProfile(roll_std=8.0, yaw_std=0.25, scale=(0.88, 1.1), shift_std=0.04,
                                     brightness=(1.0, 0.15), contrast=(0.8, 1.2), light=0.35, blur=(0.2, 1.0),
                                     noise=(2.0, 7.0), occlusion=0.07),
                     au_subset=EMOTIONET_AUS, prior=PRIORS["wild"], note="web images: blurrier, more varied"),
        DatabaseSpec("synth_afewva", "unseen", "AFEW-VA", ("va",), {"va": "ccc"}, {"test": 800}, {"test": 60},
                     NuisanceProfile(roll_std=8.0, yaw_std=0.3, brightness=(0.75, 0.15), contrast=(0.9, 1.3),
                                     light=0.45, blur=(0.2, 0.9), noise=(2.0, 6.0), occlusion=0.04),
                     prior=PRIORS["movies"], note="movie frames: dark, contrasty, strong side light"),
        DatabaseSpec("synth_gft", "unseen", "GFT", ("au",), {"au": "f1"}, {"test": 800}, {"test": 18},
                     NuisanceProfile(roll_std=6.0, yaw_std=0.35, scale=(0.8, 1.0), shift_std=0.05,
                                     brightness=(0.95, 0.06), light=0.2, blur=(0.2, 0.7), noise=(1.5, 4.0),
                                     occlusion=0.1, skin_shift=0.1),
                     au_subset=GFT_AUS, prior=PRIORS["social"], note="group setting: turned heads, smaller faces"),
        DatabaseSpec("synth_compound", "compound", "RAF-DB / EmotioNet compound", ("compound", "au", "va"),
                     {"compound": "mean_diag", "au": "f1", "va": "ccc"}, {"train": 300, "test": 900},
                     {"train": 150, "test": 400}, wild,
                     note="Du et al. compound rows; small train split for few-shot learning"),
    ]


IDENTITIES = 200
MIN_IDENTITIES = 5
IMAGES_PER_IDENTITY = {"train": 28, "val": 4, "test": 8}


def identity_databases(n_ids: int = IDENTITIES) -> list[DatabaseSpec]:
    return [DatabaseSpec(
        "synth_celeba", "identity", "CelebA", ("identity", "attributes"),
        {"identity": "accuracy", "attributes": "accuracy"},
        {k: v * n_ids for k, v in IMAGES_PER_IDENTITY.items()}, {k: n_ids for k in IMAGES_PER_IDENTITY},
        NuisanceProfile(roll_std=5.0, yaw_std=0.2, brightness=(1.05, 0.1), light=0.25, blur=(0.0, 1.0),
                        noise=(0.5, 3.0), occlusion=0.02),
        prior=PRIORS["spontaneous"], note="every identity in every split (subject-dependent)")]


PRESETS = {
    "affect": lambda scale: [db.scaled(scale) for db in affect_databases()],
    # the identity preset scales the number of identities; images per identity stay fixed
    "identity": lambda scale: identity_databases(max(MIN_IDENTITIES, round(IDENTITIES * scale))),
}


def preset_databases(name: str, scale: float = 1.0) -> list[DatabaseSpec]:
    if name not in PRESETS:
        raise ConfigError(f"SynthFace preset {name!r} does not exist; choose one of {sorted(PRESETS)}")
    if not scale > 0:
        raise ConfigError(f"SynthFace scale must be > 0, got {scale}")
    return PRESETS[name](scale)
