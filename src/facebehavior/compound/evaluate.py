"""Compound test data, metrics and reports, shared by zero-shot evaluation and few-shot fine-tuning.

Rows are taken from a manifest split; the true class is read from the label space's column and
mapped by name onto the class set. Rows without a label, and rows whose class is not in the set
(e.g. SynthFace's 15 classes scored with RAF-DB's 11), are left out, counted and reported.
Metrics: mean diagonal of the row-normalised confusion matrix (RAF-DB's criterion, = UAR), macro F1
and UAR (EmotioNet), accuracy, per-class recall.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.compound.classes import ClassSet, LabelSpace
from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation import metrics


@dataclass
class CompoundRows:
    """The kept rows of one split: their manifest, true class index into the class set, and counts."""

    manifest: object                 # facebehavior.data.manifest.Manifest (kept rows only)
    targets: np.ndarray              # (N,) int64 index into classes.names
    counts: dict

    def table(self, image_size: int, cache: bool = False):
        from facebehavior.data.datasets import ImageTable

        table = ImageTable(self.manifest, [], image_size)
        if cache:
            table.cache_in_memory()
        return table


def load_compound_rows(manifests, space: LabelSpace, classes: ClassSet, split: str = "test",
                       root: str | None = None) -> CompoundRows:
    """Rows of `split` whose label (column `space.column`) names a class of `classes`."""
    from facebehavior.data.manifest import load_split

    paths = [str(m) for m in ([manifests] if isinstance(manifests, (str, Path)) else manifests)]
    joined = load_split(paths, [space.task()], split, root)
    if joined is None:
        raise FaceBehaviorError(f"no rows with split {split!r} in {paths}")
    if space.column not in joined.frame:
        raise FaceBehaviorError(f"{paths}: no column {space.column!r}; the {space.name} label space stores the "
                                f"class there (choose another --label-space?)")
    raw = joined.frame[space.column].to_numpy(float)
    labelled = ~np.isnan(raw)
    position = {n: i for i, n in enumerate(classes.names)}
    # label-space index → class-set index (-1: not in the set); read_manifest checked the range
    to_class = np.array([position.get(n, -1) for n in space.names], np.int64)
    target = np.where(labelled, to_class[np.where(labelled, raw, 0).astype(np.int64)], -1)
    left_out = np.bincount(raw[labelled & (target < 0)].astype(np.int64), minlength=len(space.names))
    outside = {space.names[i]: int(n) for i, n in enumerate(left_out) if n}
    keep = target >= 0
    counts = {"rows_in_split": int(len(raw)), "used": int(keep.sum()), "unlabelled": int((~labelled).sum()),
              "outside_class_set": outside}
    if not keep.any():
        raise FaceBehaviorError(f"none of the {len(raw)} {split!r} rows of {paths} is labelled with one of the "
                                f"classes {list(classes.names)} (label space {space.name}, column {space.column!r})")
    return CompoundRows(joined.where(keep), target[keep], counts)


def candidate_classes(classes: ClassSet, space: LabelSpace, manifests, root: str | None = None
                      ) -> tuple[ClassSet, list[str]]:
    """`classes` less the categories of a `data_pick` label space that label no row of the manifests.

    EmotioNet's label space lists 6 basic + RAF-DB's 11 compound classes, while the challenge set
    the paper evaluates on has 16 categories (6 basic + 10 compound) and neither the paper nor any
    source we could check names the missing one. Its data do (any split): a category no row uses
    would only be a wrong candidate of eq. 8 (or a class without training rows), so it is left out
    and noted. Classes outside the label space, and every class of the other label spaces (whose
    lists are the databases' own), are kept.
    """
    from facebehavior.data.manifest import read_manifest

    if not space.data_pick:
        return classes, []
    used: set[int] = set()
    for path in [manifests] if isinstance(manifests, (str, Path)) else manifests:
        frame = read_manifest(path, [space.task()], root).frame
        if space.column in frame:  # absent: load_compound_rows says so
            used.update(frame[space.column].dropna().astype(int))
    unused = [n for i, n in enumerate(space.names) if i not in used and n in classes.names]
    if not unused or len(unused) == len(classes):  # nothing labelled at all: load_compound_rows says so
        return classes, []
    return classes.without(unused), [f"{unused}: categories of the {space.name} label space that no row of the "
                                     "data uses; left out of the class set"]


def compound_metrics(y_true, y_pred, names) -> dict:
    """Scores of class predictions (indices or (N, C) scores) against true class indices."""
    c = len(names)
    t, p = np.asarray(y_true), np.asarray(y_pred)
    p = p.argmax(1) if p.ndim == 2 else p
    recall = metrics.per_class_recall(t, p, c)
    uar = metrics.mean_diag_confusion(t, p, c)
    f1 = metrics.macro_f1(t, p, c)
    return {"mean_diag": uar, "uar": uar, "macro_f1": f1, "f1_uar_mean": 0.5 * (f1 + uar),
            "accuracy": metrics.accuracy(t, p), "n": int(len(t)),
            "per_class_recall": {n: (None if np.isnan(r) else float(r)) for n, r in zip(names, recall)},
            "confusion": metrics.confusion(t, p, c).tolist()}


def _markdown(title: str, payload: dict) -> str:
    m = payload["metrics"]
    lines = [f"# {title}", "", f"classes: {', '.join(payload['classes'])}", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {m[k]:.3f} |" for k in ("mean_diag", "macro_f1", "uar", "accuracy")]
    lines += [f"| n | {m['n']} |", "", "| class | recall |", "|---|---|"]
    lines += [f"| {n} | {'–' if r is None else f'{r:.3f}'} |" for n, r in m["per_class_recall"].items()]
    counts = payload.get("rows", {})
    if counts:
        lines += ["", f"rows: {counts['rows_in_split']} in the split, {counts['used']} used, "
                      f"{counts['unlabelled']} without a label"]
        if counts.get("outside_class_set"):
            lines.append(f"left out (class not in the set): {counts['outside_class_set']}")
    for note in payload.get("notes", []):
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


def write_compound_report(out_dir, title: str, payload: dict, stem: str = "compound") -> dict[str, Path]:
    """``<stem>.json`` (everything), ``<stem>.md`` (tables) and ``<stem>_confusion.png``."""
    from facebehavior.evaluation.plots import plot_confusion
    from facebehavior.evaluation.report import to_jsonable

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md", "confusion": out / f"{stem}_confusion.png"}
    atomic.write_text(paths["json"],
                      json.dumps(to_jsonable({"title": title, **payload}), indent=1, allow_nan=False) + "\n")
    atomic.write_text(paths["markdown"], _markdown(title, payload))
    plot_confusion(np.asarray(payload["metrics"]["confusion"]), payload["classes"], paths["confusion"],
                   title=f"{title} (mean diag {payload['metrics']['mean_diag']:.3f})")
    return paths


def model_outputs(model, table, tasks, device, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Activated outputs (softmax / sigmoid / clamped values) of `model` on every row of `table`."""
    import torch

    from facebehavior.evaluation.predict import predict_table

    return predict_table(model, table, tasks, torch.device(device), batch_size)


def evaluate_zero_shot(checkpoint, manifests, classes="rafdb", label_space: str | None = None,
                       split: str = "test", out_dir=None, au_weighting: str = "binary", device: str = "cpu",
                       batch_size: int = 256, explain_rows: int = 20, root: str | None = None) -> dict:
    """Eq. 8 predictions of a trained checkpoint on a compound-labelled manifest; writes the report.

    `root`: the folder relative image paths start from (default: each manifest's own folder).
    Returns the payload written to ``compound.json`` (metrics, counts, notes, paths and the
    explanation of the first `explain_rows` rows).
    """
    from facebehavior.compound.classes import default_label_space, label_space as get_space, resolve_classes
    from facebehavior.compound.zeroshot import zero_shot_scores
    from facebehavior.models.checkpoint import load_model

    space = get_space(label_space or default_label_space(classes))
    cs, notes = candidate_classes(resolve_classes(classes), space, manifests, root)
    model, meta, cfg = load_model(checkpoint, device)
    tasks = cfg.task_specs()
    rows = load_compound_rows(manifests, space, cs, split, root)
    outputs = model_outputs(model, rows.table(cfg.data.image_size), tasks, device, batch_size)
    scores, evidence = zero_shot_scores(outputs, cs, au_weighting, tasks)
    notes += evidence.notes
    untrained = [t for t in ("expr", "au", "va") if t in outputs and t not in meta.trained_tasks]
    if untrained:
        notes.append(f"the checkpoint's tasks {untrained} were never trained (no labels): their outputs are noise")
    payload = {"method": "zero-shot (eq. 8)", "checkpoint": str(checkpoint), "split": split,
               "label_space": space.name, "au_weighting": au_weighting, "classes": list(cs.names),
               "class_table": cs.describe(), "rows": rows.counts, "notes": notes,
               "metrics": compound_metrics(rows.targets, scores, cs.names),
               "explanations": [{"path": str(p), "true": cs.names[t], **evidence.explain(i)}
                                for i, (p, t) in enumerate(zip(rows.manifest.frame["path"][:explain_rows],
                                                               rows.targets[:explain_rows]))]}
    if out_dir is not None:
        written = write_compound_report(out_dir, f"zero-shot compound expressions ({space.name}, {split})", payload)
        payload["written"] = {k: str(v) for k, v in written.items()}
    return payload
