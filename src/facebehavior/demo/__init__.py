"""Ready-made studies on SynthFace: `affect` (the paper's Table 3/5 ablation) and `identity`
(Table 8). Each module exposes `add_arguments(parser)` and `run_demo(args) -> Path` (the report)."""

STUDIES = ("affect", "identity")
