"""docs/config.md is written from config.py: it must list every key, each with a meaning."""

import dataclasses
from pathlib import Path

from facebehavior import config as C
from facebehavior.config_reference import field_comments, reference_markdown, sections

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_the_committed_reference_is_what_the_code_writes():
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/config.md is stale: run `python -m facebehavior.config_reference --out docs/config.md`"


def test_every_key_of_every_section_has_a_meaning():
    found = {cls for _, cls in sections()}
    assert {C.TaskConfig, C.AugmentConfig, C.LabelSetConfig, C.DistributionMatchingConfig, C.EvalConfig} <= found
    for path, cls in sections():
        comments = field_comments(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not comments.get(f.name)]
        assert not missing, f"{path or 'top level'}: no comment on {missing} in config.py"


def test_comments_above_a_field_and_on_its_line_are_joined():
    comments = field_comments(C.DataConfig)
    assert comments["label_set_shares"].startswith("how a set without a given batch size")
    assert comments["crop"].startswith("the landmark template")
    assert "crop" not in comments["image_size"]  # a comment belongs to its own field only
