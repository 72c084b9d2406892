import subprocess
import sys

from facebehavior.host import cpu_model


def test_cpu_model_names_the_processor():
    name = cpu_model()
    assert isinstance(name, str) and name.strip() and "\n" not in name


def test_importing_it_loads_nothing_heavy():
    code = "import sys, facebehavior.host; print(any(m in sys.modules for m in ('numpy', 'torch')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
