import subprocess
import sys

import pytest

import facebehavior.compound as compound


def test_lazy_name_resolves_and_is_cached():
    fn = compound.zero_shot_scores
    assert callable(fn)
    assert compound.__dict__["zero_shot_scores"] is fn
    assert "run_finetune" in dir(compound) and "run_finetune" in compound.__all__


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        compound.no_such_name  # noqa: B018


def test_importing_the_package_does_not_import_torch():
    code = "import sys, facebehavior.compound; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
