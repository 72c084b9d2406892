"""SynthFace: a procedural face benchmark whose ground truth is known.

Faces are drawn from parameters (`render_face`); action units move the brows, lids, nose and
lips as FACS describes; expressions switch AUs on with the probabilities of a data-driven
table; valence/arousal follow the expression; identities carry CelebA-style attributes; and
each synthetic database has its own nuisance bias. `generate_preset` writes whole benchmarks
(images + manifests + `preset.json`). See docs/synthface.md.

Names are imported on first use, so worker processes that only render stay light (no pandas).
"""

from __future__ import annotations

from facebehavior.lazy import lazy_exports

_EXPORTS = {
    "COMPOUND_CLASSES": "affect", "VA_CENTROIDS": "affect",
    "SYNTHFACE_VERSION": "generate", "cached_preset": "generate", "generate_preset": "generate",
    "preset_total": "generate", "read_preset": "generate", "task_specs": "generate",
    "pack_preset_shards": "generate",
    "AU_DESCRIPTIONS": "params", "AU_REGION": "params", "REGIONS": "params", "SYNTH_ATTRIBUTES": "params",
    "FaceParams": "params",
    "PRESETS": "presets", "preset_databases": "presets",
    "render_face": "render",
    "save_grid": "grid",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
