"""The nginx front's configuration (deploy/nginx/default.conf, the same text in deploy/k8s) passes
`nginx -t` with Debian's nginx (.ci/run installs it; this test fails, never skips, without it)."""
from __future__ import annotations

from chassis.testing.nginx import check


def test_nginx_accepts_the_deployed_configuration(tmp_path):
    result = check(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_fronts_kubernetes_probes_ask_a_path_the_configuration_answers_itself():
    import re
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    conf = (root / "deploy/nginx/default.conf").read_text()
    docs = [d for d in yaml.safe_load_all((root / "deploy/k8s/base/nginx.yaml").read_text()) if d]
    deployment = next(d for d in docs if d.get("kind") == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    paths = {container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe", "startupProbe")
             if p in container}
    assert paths, "the front has no HTTP probes"
    for path in paths:
        assert re.search(rf"location = {re.escape(path)} \{{[^}}]*return 200", conf), \
            f"{path} is probed but deploy/nginx/default.conf does not answer it"
