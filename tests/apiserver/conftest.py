"""A real Kubernetes API server for `interarec status`: Debian's etcd and a kube-apiserver built from the Go
module proxy (`make kube-apiserver`), on free loopback ports, with a static admin token. There is no kubelet
or controller: tests write Deployment and Pod status themselves, as those components would."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBE_APISERVER = REPO_ROOT / "var" / "bin" / "kube-apiserver"
TOKEN = "interarec-test-admin-token"


def _wait(predicate, timeout_s: float, what: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"{what} not ready after {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, kafka_broker_module) -> Iterator[Path]:
    import httpx

    etcd = shutil.which("etcd")
    if etcd is None or not KUBE_APISERVER.exists():
        pytest.fail("needs etcd (Debian etcd-server) and var/bin/kube-apiserver: run `make kube-apiserver`")
    work = tmp_path_factory.mktemp("apiserver")
    client_port, peer_port, api_port = kafka_broker_module.free_ports(3)
    subprocess.run(["openssl", "genrsa", "-out", str(work / "sa.key"), "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(work / "sa.key"), "-pubout", "-out", str(work / "sa.pub")],
                   check=True, capture_output=True)
    (work / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")
    procs = []
    try:
        etcd_log = work / "etcd.log"
        procs.append(subprocess.Popen(
            [etcd, "--data-dir", str(work / "etcd"), "--listen-client-urls", f"http://127.0.0.1:{client_port}",
             "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
             "--initial-cluster", f"default=http://127.0.0.1:{peer_port}"],
            stdout=open(etcd_log, "wb"), stderr=subprocess.STDOUT, start_new_session=True))

        def etcd_ready():
            try:
                return httpx.get(f"http://127.0.0.1:{client_port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(etcd_ready, 30, "etcd", procs[-1], etcd_log)
        api_log = work / "kube-apiserver.log"
        procs.append(subprocess.Popen(
            [str(KUBE_APISERVER), f"--etcd-servers=http://127.0.0.1:{client_port}",
             "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
             f"--cert-dir={work / 'certs'}", f"--token-auth-file={work / 'tokens.csv'}",
             "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/24",
             f"--service-account-key-file={work / 'sa.pub'}",
             f"--service-account-signing-key-file={work / 'sa.key'}",
             "--service-account-issuer=https://kubernetes.default.svc",
             "--disable-admission-plugins=ServiceAccount", "--enable-priority-and-fairness=false"],
            stdout=open(api_log, "wb"), stderr=subprocess.STDOUT, start_new_session=True))

        def api_ready():
            try:
                return httpx.get(f"https://127.0.0.1:{api_port}/readyz", verify=False, timeout=2,
                                 headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(api_ready, 120, "kube-apiserver", procs[-1], api_log)
        config = work / "kubeconfig"
        config.write_text(f"""apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: {{server: "https://127.0.0.1:{api_port}", insecure-skip-tls-verify: true}}
users:
  - name: admin
    user: {{token: {TOKEN}}}
contexts:
  - name: test
    context: {{cluster: test, user: admin, namespace: default}}
current-context: test
""")
        yield config
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
