"""What the fast face-finding settings of `analyze` cost in quality, on videos with ground truth.

    .venv/bin/python benchmarks/bench_detect_quality.py [--quick] [--out benchmarks/results/bench_detect_quality.json]

Real faces (skimage's astronaut; FER+ test crops, 48×48 grey, scaled up) are pasted into 640×480
frames of a real photo without faces (skimage's rocket), at known positions and sizes that change
smoothly over time, and written as 30 fps mp4v videos. The ground truth of each pasted face is the
MTCNN box and five landmarks found on its clean source image, moved and scaled with it.

Each setting runs the real pipeline (`FaceBehavior.predict_video`): detection scale and how often
the detector runs (optical-flow tracking in between). Per setting, against the ground truth:
- recall: ground-truth face-frames with an output face overlapping them (IoU >= 0.3);
- extra faces: output faces matching no pasted face;
- box IoU and landmark error (mean over the 5 points / the ground truth's inter-ocular distance);
- the network's outputs on the setting's crops against its outputs on crops aligned at the ground
  truth (same decoded frames): expression total variation 0.5·Σ|p−q| and top-1 agreement (a FER+
  network, `runs/ferplus`), AU |Δp| and on/off agreement at 0.5, valence/arousal |Δ| (a SynthFace
  network, `runs/demo`). These networks were trained here; their outputs on these faces are not
  accurate, they show how much the crops' differences move a trained network's outputs.

The clips: `astronaut_zoom` (one face, 70-130 px wide, moving up to ~6 px/frame), `ferplus_three`
(three FER+ faces ~110 px; one appears at frame 20, one disappears at frame 60), `small_faces`
(faces 40, 50, 60, 70 and 80 px wide, drifting slowly), `astronaut_fast` (one 90 px face moving up
to ~20 px/frame), `changing_faces` (two faces whose mouth corners move, which roll ±12-15° and
squash sideways as if turning, while moving) and `tiny_faces` (20-36 px wide).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib import write_result  # benchmarks/benchlib.py

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from facebehavior.data.faces import align_face, box_iou, get_detector  # noqa: E402
from facebehavior.inference import FaceBehavior  # noqa: E402
from facebehavior.inference.backends import load_backend  # noqa: E402

WIDTH, HEIGHT, FPS = 640, 480, 30.0
FERPLUS_CKPT = REPO / "runs" / "ferplus" / "train" / "checkpoints" / "best"
DEMO_CKPT = REPO / "runs" / "demo" / "runs" / "soft_co_annotation_s2" / "checkpoints" / "best"
FERPLUS_TEST = Path(os.environ.get("FACEBEHAVIOR_SHARED", REPO.parent / "shared")) / "data" / "ferplus" / "FER2013Test"


# ---- faces with known landmarks ------------------------------------------------------------------

@dataclass
class FaceSource:
    name: str
    patch: np.ndarray      # RGB uint8
    box: np.ndarray        # (x, y, w, h) of the face in the patch (MTCNN on the clean source)
    landmarks: np.ndarray  # (5, 2) in the patch


def astronaut_source(detector) -> FaceSource:
    from skimage import data

    image = data.astronaut()
    face = max(detector.detect(image), key=lambda f: f.score)
    x, y, w, h = face.box
    x0, y0 = int(max(0, x - 0.6 * w)), int(max(0, y - 0.6 * h))
    x1, y1 = int(min(image.shape[1], x + 1.6 * w)), int(min(image.shape[0], y + 1.8 * h))
    offset = np.array([x0, y0], np.float64)
    return FaceSource("astronaut", image[y0:y1, x0:x1].copy(), np.array([*(face.box[:2] - offset), w, h]),
                      face.landmarks - offset)


def ferplus_sources(detector, n: int) -> list[FaceSource]:
    """The first `n` FER+ test crops (sorted by name) on which MTCNN finds one confident face."""
    out = []
    for path in sorted(FERPLUS_TEST.glob("*.png")):
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        rgb = np.repeat(grey[:, :, None], 3, 2)
        big = cv2.resize(rgb, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)  # the pasted faces are this size
        faces = detector.detect(big)
        if len(faces) == 1 and faces[0].score >= 0.95:
            out.append(FaceSource(path.stem, big, faces[0].box, faces[0].landmarks))
        if len(out) == n:
            break
    return out


# ---- clips: faces moving over a background -------------------------------------------------------

@dataclass
class Track:
    source: FaceSource
    width: callable        # frame -> face box width in pixels
    centre: callable       # frame -> (x, y) of the face box centre
    first: int = 0
    last: int = 10 ** 9
    change: callable | None = None  # frame -> (smile 0..1, roll degrees, yaw-like x squash 0..1)


def changed(patch: np.ndarray, box: np.ndarray, marks: np.ndarray, smile: float, roll: float, squash: float):
    """The face made to change non-rigidly: mouth corners pulled out and up by `smile` × 15 % of the
    inter-ocular distance (a smooth local warp), then rolled and squashed sideways about the face
    centre. Returns the new patch, box and landmarks (known exactly: the warp is built around them)."""
    iod = float(np.linalg.norm(marks[1] - marks[0]))
    shift = smile * 0.15 * iod * np.array([[-1.0, -0.6], [1.0, -0.6]])
    targets = marks[3:5] + shift
    h, w = patch.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = gx.copy(), gy.copy()
    sigma = 0.3 * iod
    for target, v in zip(targets, shift):
        # dst q samples src q - v·g(q - target): the point at the old corner lands exactly on the target.
        g = np.exp(-((gx - target[0]) ** 2 + (gy - target[1]) ** 2) / (2 * sigma ** 2))
        map_x -= v[0] * g
        map_y -= v[1] * g
    warped = cv2.remap(patch, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    marks = marks.copy()
    marks[3:5] = targets
    centre = box[:2] + box[2:] / 2
    rot = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), roll, 1.0)
    sx = 1.0 - 0.3 * squash
    affine = np.array([[sx, 0, centre[0] * (1 - sx)], [0, 1, 0]]) @ np.vstack([rot, [0, 0, 1]])
    warped = cv2.warpAffine(warped, affine, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    marks = marks @ affine[:, :2].T + affine[:, 2]
    box = np.array([centre[0] - box[2] * sx / 2, box[1], box[2] * sx, box[3]])
    return warped, box, marks


def background() -> np.ndarray:
    from skimage import data

    rocket = data.rocket()  # 427×640, an outdoor scene without faces
    return cv2.resize(rocket, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def render(tracks: list[Track], frame: int, bg: np.ndarray):
    """The frame and its ground truth: [(track index, box, landmarks)] for the faces shown."""
    image = bg.copy()
    truth = []
    for k, t in enumerate(tracks):
        if not t.first <= frame <= t.last:
            continue
        src_patch, src_box, src_marks = t.source.patch, t.source.box, t.source.landmarks
        if t.change is not None:
            src_patch, src_box, src_marks = changed(src_patch, src_box, src_marks, *t.change(frame))
        s = t.width(frame) / t.source.box[2]
        patch = cv2.resize(src_patch, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        centre = np.asarray(t.centre(frame), np.float64)
        face_centre = (t.source.box[:2] + t.source.box[2:] / 2) * s
        x0, y0 = np.round(centre - face_centre).astype(int)
        h, w = patch.shape[:2]
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(WIDTH, x0 + w), min(HEIGHT, y0 + h)
        image[cy0:cy1, cx0:cx1] = patch[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
        offset = np.array([x0, y0], np.float64)
        truth.append((k, np.array([*(src_box[:2] * s + offset), *(src_box[2:] * s)]), src_marks * s + offset))
    return image, truth


def clips(astronaut: FaceSource, fer: list[FaceSource], frames: int) -> dict[str, list[Track]]:
    def wave(a, b, period, phase=0.0):
        return lambda f: a + (b - a) * (0.5 + 0.5 * np.sin(2 * np.pi * f / period + phase))

    def path(x0, x1, y0, y1, px, py):
        return lambda f: (wave(x0, x1, px)(f), wave(y0, y1, py, 1.0)(f))

    return {
        "astronaut_zoom": [Track(astronaut, wave(70, 130, 75), path(150, 490, 130, 350, 90, 70))],
        "ferplus_three": [Track(fer[0], wave(100, 120, 60), path(110, 250, 130, 330, 80, 100)),
                          Track(fer[1], lambda f: 110, path(330, 520, 140, 200, 70, 90), first=20),
                          Track(fer[2], lambda f: 105, path(380, 520, 330, 380, 100, 60), last=60)],
        "small_faces": [Track(src, (lambda w: lambda f: w)(w), path(60 + 120 * i, 100 + 120 * i, 120 + 60 * (i % 3),
                                                                    160 + 60 * (i % 3), 90, 110))
                        for i, (src, w) in enumerate(zip([astronaut, fer[3], astronaut, fer[4], fer[5]],
                                                         [40, 50, 60, 70, 80]))],
        "astronaut_fast": [Track(astronaut, lambda f: 90, path(90, 550, 110, 370, 45, 35))],
        "changing_faces": [Track(astronaut, wave(90, 110, 80), path(120, 260, 160, 320, 90, 70),
                                 change=lambda f: (wave(0, 1, 40)(f), wave(-15, 15, 60)(f), wave(0, 1, 50, 2.0)(f))),
                           Track(fer[0], lambda f: 110, path(380, 520, 150, 330, 70, 100),
                                 change=lambda f: (wave(0, 1, 30, 1.0)(f), wave(-12, 12, 45)(f), wave(0, 1, 70)(f)))],
        "tiny_faces": [Track(src, (lambda w: lambda f: w)(w), path(50 + 120 * i, 90 + 120 * i, 140 + 80 * (i % 2),
                                                                   180 + 80 * (i % 2), 100, 80))
                       for i, (src, w) in enumerate(zip([astronaut, fer[3], astronaut, fer[4], fer[5]],
                                                        [20, 24, 28, 32, 36]))],
    }


def write_clip(tracks: list[Track], frames: int, path: Path, bg: np.ndarray) -> list:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    truth = []
    for f in range(frames):
        image, faces = render(tracks, f, bg)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        truth.append(faces)
    writer.release()
    return truth


def decoded_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return out


# ---- the networks whose outputs are compared ------------------------------------------------------

class Networks:
    def __init__(self):
        self.nets = {name: load_backend(path, "torch") for name, path in (("ferplus", FERPLUS_CKPT),
                                                                          ("demo", DEMO_CKPT))}

    def outputs(self, frames: list[np.ndarray], items: list[tuple[int, np.ndarray]]) -> dict[str, np.ndarray]:
        """Per output (`ferplus.ferplus8`, `demo.au`, ...), values (len(items), K) for faces aligned
        at the given landmarks on the given frames."""
        out = {}
        for name, net in self.nets.items():
            size = net.info.image_size
            crops = np.stack([align_face(frames[f], marks, size) for f, marks in items]) if items else None
            values = net.run(crops) if items else {}
            for t in net.info.tasks:
                out[f"{name}.{t.name}"] = values.get(t.name, np.zeros((0, t.size)))
        return out


# ---- one setting on one clip ---------------------------------------------------------------------

def match(truth, rows) -> tuple[list, int]:
    """Greedy IoU matching per frame: [(frame, track, gt box, gt marks, box, marks)], extra faces."""
    pairs, extra = [], 0
    for f, faces in enumerate(truth):
        found = rows.get(f, [])
        scores = sorted(((box_iou(g[1], b), i, j) for i, g in enumerate(faces) for j, (b, _) in enumerate(found)),
                        reverse=True)
        used_g, used_d = set(), set()
        for iou, i, j in scores:
            if iou < 0.3 or i in used_g or j in used_d:
                continue
            used_g.add(i)
            used_d.add(j)
            k, gbox, gmarks = faces[i]
            pairs.append((f, k, gbox, gmarks, found[j][0], found[j][1]))
        extra += len(found) - len(used_d)
    return pairs, extra


def output_rows(table) -> dict[int, list]:
    from facebehavior.inference.columns import BOX_COLUMNS, LANDMARK_COLUMNS

    rows: dict[int, list] = {}
    ok = table[table["status"] == "ok"]
    boxes = ok[list(BOX_COLUMNS)].to_numpy(np.float64)
    marks = ok[list(LANDMARK_COLUMNS)].to_numpy(np.float64).reshape(-1, 5, 2)
    for f, b, m in zip(ok["frame"].to_numpy(int), boxes, marks):
        rows.setdefault(int(f), []).append((b, m))
    return rows


def compare_outputs(got: dict, ref: dict) -> dict:
    """How far the network outputs `got` are from `ref` (dicts of (N, K) arrays, same faces)."""
    out = {}
    for key in got:
        a, b = got[key], ref[key]
        if not len(a):
            continue
        if key.endswith(("ferplus8", "expr")):
            out[f"{key}_tv"] = float(0.5 * np.abs(a - b).sum(1).mean())
            out[f"{key}_top1_agree"] = float((a.argmax(1) == b.argmax(1)).mean())
        elif key.endswith(".au"):
            out[f"{key}_abs"] = float(np.abs(a - b).mean())
            out[f"{key}_on_agree"] = float(((a >= 0.5) == (b >= 0.5)).mean())
        else:
            out[f"{key}_abs"] = float(np.abs(a - b).mean())
    return {k: round(v, 4) for k, v in out.items()}


@dataclass
class SettingRun:
    """One setting on one clip: its matched faces keyed by (frame, track), and what was computed."""

    pairs: dict            # (frame, track) -> (gt box, gt marks, box, marks)
    outputs: dict          # network output name -> {(frame, track): values}
    truth_outputs: dict    # the same on crops aligned at the ground truth
    row: dict


def run_metrics(clip: str, truth, frames, table, nets: Networks, seconds: float) -> SettingRun:
    matched, extra = match(truth, output_rows(table))
    pairs = {(f, k): rest for f, k, *rest in matched}
    total = sum(len(t) for t in truth)
    per_track: dict = {}
    for faces in truth:
        for k, _, _ in faces:
            per_track.setdefault(k, [0, 0])[1] += 1
    for _, k in pairs:
        per_track[k][0] += 1
    keys = list(pairs)
    got = nets.outputs(frames, [(f, pairs[f, k][3]) for f, k in keys])
    ref = nets.outputs(frames, [(f, pairs[f, k][1]) for f, k in keys])
    origin = table.loc[table["status"] == "ok", "face_from"].value_counts().to_dict()
    row = {"clip": clip, "face_frames": total, "recall": round(len(pairs) / total, 4),
           "recall_per_track": {k: round(a / n, 3) for k, (a, n) in sorted(per_track.items())},
           "extra_faces": extra, "face_from": {k: int(v) for k, v in origin.items()},
           "seconds": round(seconds, 2), "fps_under_this_load": round(len(frames) / seconds, 1)}
    as_dict = lambda values: {name: dict(zip(keys, v)) for name, v in values.items()}  # noqa: E731
    return SettingRun(pairs, as_dict(got), as_dict(ref), row)


def accuracy_on(run: SettingRun, keys: list) -> dict:
    """Box IoU, landmark error and output distance from the ground-truth-aligned outputs, on `keys`."""
    if not keys:
        return {}
    iou = [box_iou(run.pairs[k][0], run.pairs[k][2]) for k in keys]
    nme = [np.linalg.norm(run.pairs[k][3] - run.pairs[k][1], axis=1).mean()
           / np.linalg.norm(run.pairs[k][1][1] - run.pairs[k][1][0]) for k in keys]
    stack = lambda d: {n: np.stack([v[k] for k in keys]) for n, v in d.items()}  # noqa: E731
    return {"faces": len(keys), "box_iou_mean": round(float(np.mean(iou)), 4),
            "nme_mean": round(float(np.mean(nme)), 4), "nme_p95": round(float(np.percentile(nme, 95)), 4),
            "vs_truth_aligned": compare_outputs(stack(run.outputs), stack(run.truth_outputs))}


def versus(run: SettingRun, exact: SettingRun, keys: list) -> dict:
    """Per-face distance of this setting's outputs from the exact setting's, on `keys`."""
    if not keys:
        return {}
    stack = lambda d: {n: np.stack([v[k] for k in keys]) for n, v in d.items()}  # noqa: E731
    return compare_outputs(stack(run.outputs), stack(exact.outputs))


def run_setting(video: Path, setting: dict) -> tuple:
    import warnings

    from facebehavior.inference import locate

    fb = FaceBehavior.load(FERPLUS_CKPT, backend="torch", warn=False, detect_size=setting.get("detect_size"))
    fb.predict(np.zeros((120, 160, 3), np.uint8))  # load the detector outside the timing
    refine_below = locate.REFINE_BELOW_PX
    if not setting.get("refine", True):  # the small-face landmark pass off: what it buys
        locate.REFINE_BELOW_PX = 0
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always")
            table = fb.predict_video(video, detect_every=setting["detect_every"], min_face=setting["min_face"])
    finally:
        locate.REFINE_BELOW_PX = refine_below
    return table, time.perf_counter() - start, [str(n.message) for n in notes]


SETTINGS = [  # the analyze flags each row stands for
    {"name": "--detect-every 1 --min-face 0 (exact)", "detect_size": None, "detect_every": 1, "min_face": None},
    {"name": "--detect-every 1 (min face auto)", "detect_size": None, "detect_every": 1, "min_face": "auto"},
    {"name": "--detect-every 1, no full-resolution landmark pass", "detect_size": None, "detect_every": 1,
     "min_face": "auto", "refine": False},
    {"name": "--detect-every 3", "detect_size": None, "detect_every": 3, "min_face": "auto"},
    {"name": "defaults (--detect-every 5, min face auto)", "detect_size": None, "detect_every": 5,
     "min_face": "auto"},
    {"name": "--detect-every 10", "detect_size": None, "detect_every": 10, "min_face": "auto"},
    {"name": "--detect-size 240 --detect-every 5 --min-face 0", "detect_size": 240, "detect_every": 5,
     "min_face": None},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30 frames per clip instead of 90")
    parser.add_argument("--clips", nargs="*", help="only these clips")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_detect_quality.json"))
    args = parser.parse_args()
    for path in (FERPLUS_CKPT, DEMO_CKPT):
        if not path.is_dir():
            raise SystemExit(f"{path} is missing: run the FER+ recipe and `make demo` first (see docs/results.md)")
    n_frames = 30 if args.quick else 90
    load_before = os.getloadavg()
    detector = get_detector("mtcnn")
    astronaut, fer = astronaut_source(detector), ferplus_sources(detector, 6)
    nets = Networks()
    bg = background()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip, tracks in clips(astronaut, fer, n_frames).items():
            if args.clips and clip not in args.clips:
                continue
            video = Path(tmp) / f"{clip}.mp4"
            truth = write_clip(tracks, n_frames, video, bg)
            frames = decoded_frames(video)
            exact = None
            for setting in SETTINGS:  # the exact setting first: the others are compared with it
                table, seconds, notes = run_setting(video, setting)
                run = run_metrics(clip, truth, frames, table, nets, seconds)
                exact = exact or run
                common = [k for k in run.pairs if k in exact.pairs]
                row = {"setting": setting["name"], **run.row, "on_all_found": accuracy_on(run, list(run.pairs)),
                       "on_faces_exact_found": accuracy_on(run, common),
                       "vs_exact_per_face": versus(run, exact, common), "notes": notes}
                print(format_row(row), flush=True)
                results.append(row)
    summary = summarise(results)
    print(format_summary(summary))
    result = {"load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
              "frames_per_clip": n_frames, "video": f"{WIDTH}x{HEIGHT} {FPS:.0f} fps mp4v",
              "ferplus_sources": [s.name for s in fer], "settings": SETTINGS, "summary": summary, "rows": results}
    write_result(args.out, result, indent=1)
    print(f"load average before/after {result['load_average_before_after']}")
    return 0


def summarise(rows: list[dict]) -> list[dict]:
    """Per setting, over all clips: recall, and face-weighted means on the faces the exact setting found."""
    out = []
    for name in dict.fromkeys(r["setting"] for r in rows):
        mine = [r for r in rows if r["setting"] == name]
        found = sum(r["recall"] * r["face_frames"] for r in mine)
        total = sum(r["face_frames"] for r in mine)

        def mean(get):
            pairs = [(get(r), r["on_faces_exact_found"].get("faces", 0)) for r in mine]
            pairs = [(v, n) for v, n in pairs if v is not None and n]
            return round(sum(v * n for v, n in pairs) / sum(n for _, n in pairs), 4) if pairs else None

        truth = lambda key: lambda r: r["on_faces_exact_found"].get("vs_truth_aligned", {}).get(key)  # noqa: E731
        exact = lambda key: lambda r: r["vs_exact_per_face"].get(key)  # noqa: E731
        out.append({"setting": name, "recall": round(found / total, 4), "face_frames": total,
                    "extra_faces": sum(r["extra_faces"] for r in mine),
                    "nme_mean": mean(lambda r: r["on_faces_exact_found"].get("nme_mean")),
                    "fer_tv_vs_truth": mean(truth("ferplus.ferplus8_tv")),
                    "fer_top1_vs_truth": mean(truth("ferplus.ferplus8_top1_agree")),
                    "au_abs_vs_truth": mean(truth("demo.au_abs")), "va_abs_vs_truth": mean(truth("demo.va_abs")),
                    "fer_tv_vs_exact": mean(exact("ferplus.ferplus8_tv")),
                    "fer_top1_vs_exact": mean(exact("ferplus.ferplus8_top1_agree")),
                    "au_abs_vs_exact": mean(exact("demo.au_abs")), "au_on_vs_exact": mean(exact("demo.au_on_agree")),
                    "va_abs_vs_exact": mean(exact("demo.va_abs")),
                    "recall_per_clip": {r["clip"]: r["recall"] for r in mine}})
    return out


def format_summary(summary: list[dict]) -> str:
    cols = ("recall", "extra_faces", "nme_mean", "fer_tv_vs_truth", "fer_top1_vs_truth", "au_abs_vs_truth",
            "va_abs_vs_truth", "fer_tv_vs_exact", "fer_top1_vs_exact", "au_abs_vs_exact", "au_on_vs_exact",
            "va_abs_vs_exact")
    lines = ["", "all clips (means on the faces the exact setting found):", f"{'setting':<48} " +
             " ".join(f"{c[:16]:>16}" for c in cols)]
    for r in summary:
        lines.append(f"{r['setting'][:48]:<48} " + " ".join(f"{str(r[c]):>16}" for c in cols))
    return "\n".join(lines)


def format_row(r: dict) -> str:
    a, v = r["on_faces_exact_found"], r["vs_exact_per_face"]
    t = a.get("vs_truth_aligned", {})
    return (f"{r['clip']:<15} {r['setting'][:30]:<30} recall {r['recall']:.3f} extra {r['extra_faces']:>2} "
            f"NME {a.get('nme_mean')} p95 {a.get('nme_p95')} | vs truth: FER TV {t.get('ferplus.ferplus8_tv')} "
            f"top1 {t.get('ferplus.ferplus8_top1_agree')} AU {t.get('demo.au_abs')} VA {t.get('demo.va_abs')} | "
            f"vs exact: FER TV {v.get('ferplus.ferplus8_tv')} top1 {v.get('ferplus.ferplus8_top1_agree')} "
            f"AU {v.get('demo.au_abs')} on {v.get('demo.au_on_agree')} VA {v.get('demo.va_abs')} | "
            f"{r['face_from']} {r['fps_under_this_load']} fps")


if __name__ == "__main__":
    sys.exit(main())
