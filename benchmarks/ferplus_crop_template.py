"""Where FER2013's crops put a face: the five-landmark template of the 48×48 FER+ images.

FER2013 faces were cropped by their own detector, tight and face-centred; the shipped FER+ model
learnt that framing. `facebehavior analyze` aligns a photo's faces with a similarity transform
onto a 5-point template, so for that model the template must be FER2013's own framing, not the
ArcFace one. This script measures it: our MTCNN backend on a random sample of FER+ *train*
images (never valid or test), the landmarks of each detected face in the 48×48 frame, and their
median per point, made left-right symmetric. It prints a table and writes
benchmarks/results/ferplus_crop_template.json; `models/preprocessing.py` holds the result.

    python benchmarks/ferplus_crop_template.py --data ../shared/data/ferplus --n 3000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import write_result  # noqa: E402


def symmetric(points: np.ndarray, size: float) -> np.ndarray:
    """Average each point with its mirror image (left eye ↔ right eye, mouth corners, nose)."""
    mirrored = points[[1, 0, 2, 4, 3]].copy()
    mirrored[:, 0] = size - mirrored[:, 0]
    return (points + mirrored) / 2


def main() -> None:
    from facebehavior.data.faces import get_detector, pick_main_face
    from facebehavior.data.transforms import load_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/ferplus")
    ap.add_argument("--n", type=int, default=3000, help="train images sampled")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted((Path(args.data) / "FER2013Train").glob("*.png"))
    if not files:
        sys.exit(f"no FER2013Train/*.png under {args.data}")
    rng = np.random.default_rng(args.seed)
    sample = [files[i] for i in np.sort(rng.choice(len(files), min(args.n, len(files)), replace=False))]
    detector = get_detector("mtcnn")
    marks = []
    for path in sample:
        image = load_image(path)
        face = pick_main_face(detector.detect(image), 48, 48)
        if face is not None and not face.landmarks_estimated:
            marks.append(face.landmarks)
    marks = np.asarray(marks)
    median = symmetric(np.median(marks, axis=0), 48.0)
    spread = np.median(np.abs(marks - np.median(marks, axis=0)), axis=0)
    names = ["left eye", "right eye", "nose tip", "left mouth", "right mouth"]
    print(f"FER+ train images: {len(sample)} sampled, {len(marks)} with a detected face")
    print(f"{'point':12} {'x (48 px)':>10} {'y (48 px)':>10} {'MAD x':>7} {'MAD y':>7}")
    for name, (x, y), (mx, my) in zip(names, median, spread):
        print(f"{name:12} {x:10.2f} {y:10.2f} {mx:7.2f} {my:7.2f}")
    write_result(Path(__file__).parent / "results" / "ferplus_crop_template.json", {
        "command": "python benchmarks/ferplus_crop_template.py " + " ".join(sys.argv[1:]),
        "sampled": len(sample), "detected": int(len(marks)), "frame": 48,
        "template_48": median.round(3).tolist(), "median_abs_deviation": spread.round(3).tolist(),
        "points": names})


if __name__ == "__main__":
    main()
