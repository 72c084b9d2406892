"""Rendering: determinism, size limits, and each AU acting in its own facial region."""

import itertools

import numpy as np
import pytest

from facebehavior.synthface import AU_REGION, REGIONS, FaceParams, render_face
from facebehavior.synthface.canvas import CENTER, UNIT
from facebehavior.synthface.identity import sample_identity
from facebehavior.synthface.params import Nuisance, Occluder, Wear
from facebehavior.synthface.png import encode_png
from facebehavior.synthface.presets import preset_databases
from facebehavior.synthface.render import render_faces
from facebehavior.synthface.sample import make_sample
from facebehavior.errors import ConfigError
from facebehavior.labels import AUS

SIZE = 112
CHANGED = 8  # grey levels: a pixel counts as changed above this


def _changes(base: FaceParams, au: int, intensity: float = 1.0):
    """Changed pixels when one AU is switched on: (count, centroid y, mean |x|) in face units."""
    before = render_face(base, SIZE).astype(int)
    after = render_face(base.with_aus(**{f"au{au}": intensity}), SIZE).astype(int)
    ys, xs = np.nonzero(np.abs(after - before).max(-1) > CHANGED)
    if len(ys) == 0:
        return 0, np.nan, np.nan
    y = ((ys + 0.5) / SIZE - CENTER[1]) / UNIT
    x = np.abs((xs + 0.5) / SIZE - CENTER[0]) / UNIT
    return len(ys), float(y.mean()), float(x.mean())


def _in_region(au: int, y: float, x: float) -> bool:
    x_lo, x_hi, y_lo, y_hi = REGIONS[AU_REGION[au]]
    return x_lo <= x <= x_hi and y_lo <= y <= y_hi


def test_same_parameters_give_identical_bytes():
    spec = preset_databases("affect")[2]  # blurry, noisy video-like set
    params = make_sample(spec, seed=3, index=11).params
    params.nuisance.occluder = Occluder(0.2, 0.5, 0.3, 0.2, 0.4, (200, 150, 120))
    first, second = render_face(params, 64), render_face(params, 64)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert encode_png(first) == encode_png(second)


def test_nuisance_changes_the_image():
    base = render_face(FaceParams(), 64)
    for nuisance in (Nuisance(roll=10), Nuisance(yaw=0.5), Nuisance(scale=0.8), Nuisance(brightness=0.7),
                     Nuisance(blur=1.0), Nuisance(noise=5, noise_seed=1)):
        assert np.abs(render_face(FaceParams(nuisance=nuisance), 64).astype(int) - base).max() > CHANGED


@pytest.mark.parametrize("size", [16, 48, 64, 112])
def test_any_size_from_16_to_112(size):
    assert render_face(FaceParams(), size).shape == (size, size, 3)


@pytest.mark.parametrize("size", [15, 113])
def test_size_outside_limits_is_refused(size):
    with pytest.raises(ConfigError, match="16..112"):
        render_face(FaceParams(), size)


@pytest.mark.parametrize("au", AUS)
def test_each_au_acts_in_its_region(au):
    count, y, x = _changes(FaceParams(), au)
    assert count >= 20, f"AU{au} barely changes the image ({count} pixels)"
    assert _in_region(au, y, x), f"AU{au} acts at y={y:.2f}, |x|={x:.2f}, outside {AU_REGION[au]}"


def test_regions_hold_for_other_identities():
    rng = np.random.default_rng(5)
    for _ in range(3):
        shape = sample_identity(rng).shape
        for au in AUS:
            count, y, x = _changes(FaceParams(shape=shape), au)
            assert count > 0 and _in_region(au, y, x), f"AU{au}: y={y:.2f} |x|={x:.2f} for {shape}"


def test_stronger_au_changes_more_pixels():
    for au in AUS:
        assert _changes(FaceParams(), au, 1.0)[0] > _changes(FaceParams(), au, 0.3)[0], f"AU{au}"


def test_aus_in_different_regions_act_in_different_places():
    where = {au: np.array(_changes(FaceParams(), au)[1:]) for au in AUS}
    for a, b in itertools.combinations(AUS, 2):
        if AU_REGION[a] != AU_REGION[b]:
            assert np.linalg.norm(where[a] - where[b]) > 0.12, f"AU{a} and AU{b} act in the same place"


def _varied_faces() -> list[FaceParams]:
    """Samples of every affect database plus faces with every optional part switched on."""
    faces = [make_sample(spec, 1, i).params for spec in preset_databases("affect") for i in range(2)]
    rng = np.random.default_rng(0)
    for k, beard in enumerate(("", "mustache", "goatee", "full")):
        wear = Wear(glasses=True, sunglasses=k % 2 == 1, hat=True, earrings=True, lipstick=True, bangs=k < 2,
                    beard=beard, rosy=True)
        occluder = Occluder(0.1, 0.4, 0.3, 0.2, 0.7, (200, 150, 120), box=k % 2 == 0)
        nuisance = Nuisance(roll=8 * k - 12, yaw=0.3 * k - 0.45, scale=1.04, blur=0.6 * k, noise=2.0,
                            noise_seed=(k + 1) << 29, occluder=occluder)
        faces.append(FaceParams(sample_identity(rng).shape, wear, rng.uniform(0, 1, len(AUS)).astype(np.float32),
                                nuisance))
    return faces


@pytest.mark.parametrize("size", [16, 64, 112])
def test_a_face_renders_the_same_in_any_batch(size):
    faces = _varied_faces()
    alone = np.stack([render_face(p, size) for p in faces])
    assert np.array_equal(render_faces(faces, size), alone)
    assert np.array_equal(render_faces(faces[::-1], size)[::-1], alone)  # other neighbours, other order


def test_optional_parts_show():
    base = FaceParams(nuisance=Nuisance(scale=1.04))  # glasses frames 2 px wide on the 224 px canvas
    for wear in (Wear(glasses=True), Wear(sunglasses=True, glasses=True), Wear(hat=True), Wear(beard="full"),
                 Wear(beard="goatee"), Wear(beard="mustache"), Wear(earrings=True), Wear(bangs=True),
                 Wear(rosy=True), Wear(lipstick=True)):
        after = render_faces([base, FaceParams(base.shape, wear, base.aus, base.nuisance)], 112)
        changed = int((np.abs(after[1].astype(int) - after[0]).max(-1) > CHANGED).sum())
        assert changed >= 10, f"{wear} changes only {changed} pixels"
