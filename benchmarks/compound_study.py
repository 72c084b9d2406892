"""Compound expressions on SynthFace: zero-shot vs few-shot vs from scratch, with and without coupling.

    .venv/bin/python benchmarks/compound_study.py                    # trains two small models first
    .venv/bin/python benchmarks/compound_study.py --checkpoint coupling=runs/demo/.../best \\
        --checkpoint no_coupling=runs/demo/.../best                  # models from the affect demo

Without --checkpoint it generates (or reuses) the SynthFace affect preset (scale 1, 64×64, the
demo's data) and trains two tiny fbn networks on it with `train()` and the affect demo's CPU recipe
(one with soft co-annotation + distribution matching, one without). On the quick preset (scale 0.2)
a few epochs leave the tiny network at chance level, so the study defaults to the full one. It
then renders the study's compound set and runs `facebehavior.studies.compound.run_compound_study`.
Outputs: benchmarks/results/compound_study.json, .md and .png (details per model under --runs);
`--replot` redraws the .md and .png from the JSON.
"""

from __future__ import annotations

import sys

from facebehavior.studies.compound import main

if __name__ == "__main__":
    sys.exit(main())
