"""Evaluate a model on a user's own labelled photos, through the same detection and alignment as
`facebehavior analyze`.

Labelled photos come as a folder with one sub-folder per expression (``happy/001.jpg``) or as a
CSV with an image path column and an expression column (paths relative to the CSV's folder),
optionally with AU columns (``au12`` …, 0/1) and ``valence``/``arousal``. Label names are matched
to the model's expression classes case-insensitively, with the usual synonyms (happy → happiness,
angry → anger …). Each photo's main face (the largest) is scored. Nothing is dropped silently:
photos whose label the model cannot predict, that cannot be read, or where no face was found are
listed with their reason in the report and counted in the metrics' denominators' place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SYNONYMS = {"happy": "happiness", "joy": "happiness", "sad": "sadness", "angry": "anger", "mad": "anger",
            "surprised": "surprise", "fearful": "fear", "afraid": "fear", "scared": "fear",
            "disgusted": "disgust", "contemptuous": "contempt", "calm": "neutral", "neutrality": "neutral"}
PATH_COLUMNS = ("path", "image", "file", "filename")
LABEL_COLUMNS = ("expression", "label", "expr", "emotion")


@dataclass
class LabelledPhotos:
    """Photo paths with their labels, and the rows that could not be used (with reasons)."""

    frame: pd.DataFrame  # path (absolute), label (as given), plus optional au*/valence/arousal columns
    source: str
    problems: list = field(default_factory=list)  # {"path", "reason"}


def read_labelled_photos(source: str | Path) -> LabelledPhotos:
    """A class-per-folder tree or a CSV → paths and labels."""
    source = Path(source)
    if source.is_dir():
        return _from_folder(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _from_csv(source)
    raise FaceBehaviorError(f"{source}: expected a folder with one sub-folder per expression (e.g. happy/1.jpg) "
                            "or a .csv with an image path column and an expression column")


def _from_folder(root: Path) -> LabelledPhotos:
    rows, problems = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append({"path": str(path), "reason": "not an image file (by its suffix)"})
        elif path.parent == root:
            problems.append({"path": str(path), "reason": "not inside a class folder: its label is unknown"})
        else:
            rows.append({"path": str(path.resolve()), "label": path.relative_to(root).parts[0]})
    if not rows:
        raise FaceBehaviorError(f"{root}: no images inside class folders (expected e.g. {root}/happy/1.jpg)")
    return LabelledPhotos(pd.DataFrame(rows), str(root), problems)


def _from_csv(csv: Path) -> LabelledPhotos:
    try:
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FaceBehaviorError(f"{csv}: cannot be read as a UTF-8 CSV ({exc})") from None
    lower = {c.lower().strip(): c for c in frame.columns}
    path_col = next((lower[c] for c in PATH_COLUMNS if c in lower), None)
    label_col = next((lower[c] for c in LABEL_COLUMNS if c in lower), None)
    if path_col is None or label_col is None:
        raise FaceBehaviorError(f"{csv}: needs an image column (one of {PATH_COLUMNS}) and an expression column "
                                f"(one of {LABEL_COLUMNS}); found {list(frame.columns)}")
    out = pd.DataFrame({"path": [str((csv.parent / p).resolve()) if p else "" for p in frame[path_col]],
                        "label": frame[label_col].str.strip()})
    for col in frame.columns:
        name = col.lower().strip()
        if name.startswith("au") and name[2:].isdigit() or name in ("valence", "arousal"):
            out[name] = pd.to_numeric(frame[col].replace("", np.nan), errors="coerce")
    problems = [{"path": f"{csv}:{i + 2}", "reason": "empty image path"} for i in np.flatnonzero(out["path"] == "")]
    return LabelledPhotos(out[out["path"] != ""].reset_index(drop=True), str(csv), problems)


def canonical_label(label: str, classes: list[str]) -> str | None:
    """`label` as one of `classes` (case-insensitive, with synonyms), or None."""
    name = label.strip().lower()
    name = SYNONYMS.get(name, name)
    return name if name in classes else None


def evaluate_photos(source: str | Path, checkpoint: str | Path | None = None, out: str | Path = "photo_eval",
                    device: str = "cpu", detector: str = "mtcnn", batch_size: int = 64, say=print) -> dict:
    """Detect, align and predict every labelled photo; write metrics.json, report.md,
    predictions.csv and confusion.png into `out`. Returns the metrics dict."""
    from facebehavior.inference import FaceBehavior

    photos = read_labelled_photos(source)
    analyzer = FaceBehavior.load(checkpoint, device=device, detector=detector, batch_size=batch_size, warn=False)
    task = _expression_task(analyzer.info)
    classes = list(task.labels)
    frame = photos.frame.copy()
    frame["target"] = [canonical_label(x, classes) for x in frame["label"]]
    problems = list(photos.problems)
    for path, label in frame.loc[frame["target"].isna(), ["path", "label"]].itertuples(index=False):
        problems.append({"path": path, "reason": f"label {label!r} is not one of the model's classes {classes}"})
    frame = frame[frame["target"].notna()].reset_index(drop=True)
    if frame.empty:
        raise FaceBehaviorError(f"{source}: no photo has a label among the model's classes {classes}")
    say(f"{len(frame)} labelled photo(s); predicting with {analyzer.info.source}")
    predicted, failed = _analyse(analyzer, list(frame["path"]))
    scored = _main_faces(frame, predicted, task, problems, failed)
    metrics = _metrics(scored, classes, task.name, analyzer.info, problems, photos.source)
    _write(Path(out), metrics, scored, classes)
    return metrics


def _analyse(analyzer, paths: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The analysis rows of every readable photo, and why each other one failed (path → reason)."""
    from facebehavior.inference.analyzer import AnalyzeOptions, Rows, SourceFailed
    from facebehavior.inference.inputs import Input

    inputs = [Input(Path(p), "image", Path(p).name) for p in paths]
    tables, failed = [], {}
    for event in analyzer.process(inputs, AnalyzeOptions()):
        if isinstance(event, Rows):
            tables.append(event.table)
        elif isinstance(event, SourceFailed):
            failed[event.source] = f"{event.reason}: {event.detail}"
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["source", "status"])), failed


def _expression_task(info):
    multiclass = [t for t in info.tasks if t.kind == "multiclass"]
    if not multiclass:
        raise FaceBehaviorError(f"{info.source} has no expression (multiclass) head to evaluate")
    return next((t for t in multiclass if t.name == "expr"), multiclass[0])


def _main_faces(frame: pd.DataFrame, predicted: pd.DataFrame, task, problems: list,
                failed: dict[str, str]) -> pd.DataFrame:
    """One row per photo: its largest face's prediction, or its status when there is none. The
    model's AU decisions and valence/arousal for labelled columns come as `pred_<column>`."""
    probs = [f"{task.name}_{label}" for label in task.labels]
    extra = [c for c in frame.columns if c.startswith("au") or c in ("valence", "arousal")]
    outputs = {c: (f"{c}_on" if c.startswith("au") else c) for c in extra if
               (f"{c}_on" if c.startswith("au") else c) in predicted.columns}
    rows = []
    by_source = {s: g for s, g in predicted.groupby("source", sort=False)}
    for record in frame.to_dict("records"):
        faces = by_source.get(record["path"])
        ok = faces[faces["status"] == "ok"] if faces is not None else None
        if faces is None:
            rows.append({**record, "status": "unreadable"})
            problems.append({"path": record["path"],
                             "reason": failed.get(record["path"], "the image could not be read")})
        elif ok.empty:
            rows.append({**record, "status": "no_face"})
            problems.append({"path": record["path"], "reason": "no face found"})
        else:
            main = ok.loc[(ok["box_w"] * ok["box_h"]).idxmax()]
            values = main[probs].to_numpy(np.float64)
            rows.append({**record, "status": "ok", "faces": len(ok), "predicted": task.labels[int(values.argmax())],
                         **dict(zip(probs, values)),
                         **{f"pred_{c}": float(main[col]) if pd.notna(main[col]) else np.nan
                            for c, col in outputs.items()}})
    return pd.DataFrame(rows)


def _metrics(scored: pd.DataFrame, classes: list[str], task: str, info, problems: list, source: str) -> dict:
    from sklearn.metrics import confusion_matrix, f1_score, recall_score

    ok = scored[scored["status"] == "ok"]
    present = [c for c in classes if (ok["target"] == c).any()]
    result = {"source": source, "model": info.source, "task": task, "classes": classes,
              "photos": int(len(scored)), "scored": int(len(ok)),
              "no_face": sorted(scored.loc[scored["status"] == "no_face", "path"]),
              "unreadable": sorted(scored.loc[scored["status"] == "unreadable", "path"]),
              "problems": problems}
    if ok.empty:
        result.update({"accuracy": None, "mean_recall": None, "macro_f1": None})
        return result
    y, p = ok["target"].to_numpy(), ok["predicted"].to_numpy()
    recalls = recall_score(y, p, labels=present, average=None, zero_division=0)
    result.update({
        "accuracy": float((y == p).mean()),
        "mean_recall": float(np.mean(recalls)),  # over the classes the photos contain
        "macro_f1": float(f1_score(y, p, labels=present, average="macro", zero_division=0)),
        "per_class_recall": {c: {"recall": float(r), "support": int((y == c).sum())} for c, r in zip(present, recalls)},
        "confusion": confusion_matrix(y, p, labels=classes).tolist(),  # rows: label, columns: prediction
    })
    result.update(_au_va_metrics(ok))
    return result


def _au_va_metrics(ok: pd.DataFrame) -> dict:
    """AU F1 and valence/arousal CCC where the photos carry those labels and the model those heads."""
    from facebehavior.evaluation.metrics import ccc, f1_per_label

    out = {}
    aus = [c for c in ok.columns if c.startswith("au") and f"pred_{c}" in ok.columns]
    if aus:
        truth = ok[aus].to_numpy(np.float64)
        guess = ok[[f"pred_{c}" for c in aus]].to_numpy(np.float64)
        f1 = f1_per_label(truth, guess, ~np.isnan(truth) & ~np.isnan(guess))
        out["au_f1"] = {c: (None if np.isnan(v) else float(v)) for c, v in zip(aus, f1)}
    for dim in ("valence", "arousal"):
        if dim in ok.columns and f"pred_{dim}" in ok.columns:
            both = ok[[dim, f"pred_{dim}"]].dropna()
            out[f"ccc_{dim}"] = float(ccc(both[f"pred_{dim}"], both[dim])) if len(both) > 1 else None
    return out


def _write(out: Path, metrics: dict, scored: pd.DataFrame, classes: list[str]) -> None:
    from facebehavior.evaluation.plots import plot_confusion

    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    atomic.write_text(out / "predictions.csv", scored.to_csv(index=False))
    if metrics.get("confusion"):
        plot_confusion(np.asarray(metrics["confusion"]), classes, out / "confusion.png",
                       title=f"{Path(metrics['source']).name}: {metrics['scored']} photos")
    atomic.write_text(out / "report.md", photo_report(metrics))


def photo_report(m: dict) -> str:
    """The metrics as markdown: headline numbers, per-class recall, what could not be scored."""
    pct = (lambda v: "n/a" if v is None else f"{100 * v:.1f}%")
    lines = [f"# Expression evaluation: {m['source']}", "", f"Model: `{m['model']}` (task `{m['task']}`)", "",
             "| photos | scored | no face | unreadable | accuracy | mean recall | macro F1 |", "|---|---|---|---|---|---|---|",
             f"| {m['photos']} | {m['scored']} | {len(m['no_face'])} | {len(m['unreadable'])} | {pct(m['accuracy'])} | "
             f"{pct(m['mean_recall'])} | {pct(m['macro_f1'])} |", ""]
    if m.get("per_class_recall"):
        lines += ["| class | recall | photos |", "|---|---|---|"]
        lines += [f"| {c} | {pct(v['recall'])} | {v['support']} |" for c, v in m["per_class_recall"].items()]
        lines += ["", "Confusion matrix: `confusion.png` (rows: label, columns: prediction); per photo: "
                      "`predictions.csv`.", ""]
    if m["problems"]:
        lines += [f"## Not scored ({len(m['problems'])})", ""] + [f"- `{p['path']}`: {p['reason']}"
                                                                  for p in m["problems"]]
    return "\n".join(lines) + "\n"
