"""Every experiment the toolkit ships, in one place: what the library is used for, not the library.

- `affect`: the paper's Table 3/5 ablation on SynthFace (coupling, task balancing, single-task
  networks, negative transfer) — `facebehavior demo` / `make demo`;
- `identity`: Table 8, identities and attributes on SynthFace — `facebehavior demo --study identity`;
- `compound`: zero-shot vs few-shot compound expressions — `benchmarks/compound_study.py`;
- `ferplus`: the real-face recipe that trains the shipped model — `facebehavior recipe ferplus`
  (`distill` its teacher targets, `ferplus_report` its report, `timing` its resumable clock).

`common` and `transfer` are the study reports' shared tables, significance verdicts and figures.
The SynthFace studies (`STUDIES`) expose `run_demo(args) -> Path` (the report). Nothing in the
library imports this package (tests/test_import_graph.py).
"""

STUDIES = ("affect", "identity")
