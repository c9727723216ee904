"""Profiles (lvrlib.profiles): one name sets the scale, any field can be overridden."""
from __future__ import annotations

import dataclasses

import pytest

from lvrlib.profiles import PROFILES, Profile, default_profile_name, get_profile
from lvrlib.settings import ENCODER_STEPS, LVRSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("LVRLIB_PROFILE", raising=False)
    monkeypatch.delenv("LVRLIB_CHECKPOINT", raising=False)


def test_default_is_sample_without_the_environment():
    assert default_profile_name() == "sample"
    assert get_profile().name == "sample"
    assert get_profile() == PROFILES["sample"]


@pytest.mark.parametrize("name", ["smoke", "paper"])
def test_default_follows_lvrlib_profile(monkeypatch, name):
    monkeypatch.setenv("LVRLIB_PROFILE", name)
    assert default_profile_name() == name
    assert get_profile() == PROFILES[name]
    # An explicit name wins over the environment.
    assert get_profile("sample").name == "sample"


def test_empty_lvrlib_profile_means_the_default(monkeypatch):
    monkeypatch.setenv("LVRLIB_PROFILE", "")
    assert get_profile().name == "sample"


def test_overrides_apply_and_leave_the_registry_alone():
    p = get_profile("smoke", steps=123, lr=0.5, tol=1e-3)
    assert (p.lvr.steps, p.lvr.lr, p.lvr.tol) == (123, 0.5, 1e-3)
    assert p.lvr.id == PROFILES["smoke"].lvr.id    # the rest of the settings kept
    assert p.n_generated == PROFILES["smoke"].n_generated
    assert PROFILES["smoke"].lvr.steps == 8
    # A bad LVR field is refused by LVRSettings, naming it.
    with pytest.raises(ValueError, match="steps=0"):
        get_profile("smoke", steps=0)


def test_none_overrides_are_ignored():
    p = get_profile("smoke", steps=None, table3_sigmas=None, checkpoint=None)
    assert p == PROFILES["smoke"]


def test_list_overrides_become_tuples():
    p = get_profile("sample", table3_sigmas=[50], unseen=["olivetti"])
    assert p.table3_sigmas == (50,)
    assert p.unseen == ("olivetti",)


def test_unknown_profile_raises_naming_it(monkeypatch):
    with pytest.raises(ValueError, match="'tiny'") as e:
        get_profile("tiny")
    assert "smoke" in str(e.value)
    monkeypatch.setenv("LVRLIB_PROFILE", "huge")
    with pytest.raises(ValueError, match="'huge'"):
        get_profile()


def test_unknown_field_raises_naming_it():
    with pytest.raises(ValueError, match="stepz"):
        get_profile("smoke", stepz=3)


def test_lvrlib_checkpoint_sets_the_checkpoint(monkeypatch, tmp_path):
    ckpt = str(tmp_path / "generator.safetensors")
    assert get_profile("sample").checkpoint is None
    monkeypatch.setenv("LVRLIB_CHECKPOINT", ckpt)
    assert get_profile("sample").checkpoint == ckpt
    assert get_profile("smoke").checkpoint == ckpt
    # A notebook passing its parameter straight through (None) keeps the environment's.
    assert get_profile("smoke", checkpoint=None).checkpoint == ckpt
    # An explicit checkpoint wins over the environment.
    assert get_profile("smoke", checkpoint="other.safetensors").checkpoint == "other.safetensors"


def test_profiles_grow_in_scale():
    s, m, p = PROFILES["smoke"], PROFILES["sample"], PROFILES["paper"]
    for f in ("n_generated", "n_celeba", "n_unseen", "sharpness_n", "n_sigma_curve",
              "n_compute_curve", "compute_steps_paper", "compute_steps_lvrlib"):
        assert getattr(s, f) < getattr(m, f) <= getattr(p, f), f
    # sample runs recover()'s defaults (None): from the shipped encoder's start.
    assert m.lvr.steps is None and m.lvr.lr is None and m.lvr == LVRSettings(id=m.lvr.id)
    assert s.lvr.steps < ENCODER_STEPS <= p.lvr.steps
    assert all(isinstance(v, Profile) and v.name == k for k, v in PROFILES.items())


def test_as_dict_round_trips():
    p = get_profile("paper")
    d = p.as_dict()
    assert Profile(**{**d, "lvr": LVRSettings(**d["lvr"])}) == p
    assert set(p.as_dict()) == {f.name for f in dataclasses.fields(Profile)}
