"""What a study report says about where its numbers came from."""

import re

from facebehavior.studies.common import environment, environment_line, installed_digest


def test_environment_names_cpu_versions_lock_and_installed_packages():
    env = environment()
    assert env["cpu"] and env["torch"] and re.fullmatch(r"[0-9a-f]{12}", env["installed_sha256"])
    assert installed_digest() == env["installed_sha256"]  # the same environment, the same digest
    line = environment_line(env)
    assert f"CPU {env['cpu']}" in line and env["installed_sha256"] in line


def test_outside_the_repository_the_installed_packages_still_identify_the_environment():
    env = {**environment(), "requirements_lock_sha256": None}
    line = environment_line(env)
    assert "no requirements.lock" in line and f"installed packages {env['installed_sha256']}" in line
