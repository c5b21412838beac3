"""The nginx front's configuration (deploy/nginx/default.conf, the same text in deploy/k8s) passes
`nginx -t` with Debian's nginx (.ci/run installs it; this test fails, never skips, without it)."""
from __future__ import annotations

from chassis.testing.nginx import check


def test_nginx_accepts_the_deployed_configuration(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
