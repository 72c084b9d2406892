"""Identities and attributes: every attribute varies, worn things follow per-identity propensities."""

import numpy as np

from facebehavior.synthface import SYNTH_ATTRIBUTES
from facebehavior.synthface.presets import preset_databases
from facebehavior.synthface.sample import make_sample
from facebehavior.labels import AUS


def _samples(n_ids=40):
    spec = preset_databases("identity", n_ids / 200)[0]
    return [make_sample(spec, 0, i) for i in range(spec.sizes["train"])]


def test_no_attribute_is_constant():
    rates = np.mean([[s.attributes[a] for a in SYNTH_ATTRIBUTES] for s in _samples()], axis=0)
    flat = [a for a, r in zip(SYNTH_ATTRIBUTES, rates) if not 0.02 < r < 0.98]
    assert not flat, f"attributes that never vary: {flat}"


def test_attributes_follow_the_image():
    for s in _samples(10):
        on = {au: s.affect.aus[j] > 0 for j, au in enumerate(AUS)}
        assert s.attributes["Smiling"] == int(on[12])
        assert s.attributes["Eyeglasses"] == int(s.params.wear.glasses)
        assert s.attributes["No_Beard"] == int(s.params.wear.beard == "")
        hair = sum(s.attributes[h] for h in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"))
        assert hair <= 1 and not (hair and s.attributes["Bald"])


def test_glasses_depend_on_the_person():
    by_id: dict[int, list[int]] = {}
    for s in _samples():
        by_id.setdefault(s.subject, []).append(s.attributes["Eyeglasses"])
    rates = np.array([np.mean(v) for v in by_id.values()])
    assert (rates > 0.6).any() and (rates < 0.1).any()
