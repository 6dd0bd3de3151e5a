"""Start containers as the kubelet would, on this machine: each ContainerPlan's command with exactly its
environment, its volumes materialised under a local root (emptyDirs as fresh folders, claims as the folders
the caller provides, Secrets and ConfigMaps as files), in-container paths in env values mapped there, and the
image's virtualenv replaced by one installed from the same wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.deploy.plan import ContainerPlan, PathMap


@dataclass
class Running:
    plan: ContainerPlan
    process: subprocess.Popen
    log_path: Path
    paths: PathMap

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.plan.port()}{path}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RehearsalError(RuntimeError):
    pass


def _materialise(plan: ContainerPlan, root: Path, venv: Path, claims: dict[str, Path],
                 secrets: dict[tuple[str, str], str], configmaps: dict[str, dict]) -> PathMap:
    prefixes: dict[str, Path] = {}
    for m in plan.mounts:
        local = root / m.path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        source = m.source
        if "emptyDir" in source:
            local.mkdir(parents=True, exist_ok=True)
        elif "persistentVolumeClaim" in source:
            claim = source["persistentVolumeClaim"]["claimName"]
            if claim not in claims:
                raise RehearsalError(f"{plan.deployment}: mounts claim {claim}, which the rehearsal was not given")
            if not local.exists():
                local.symlink_to(claims[claim], target_is_directory=True)
        elif "secret" in source or "configMap" in source:
            local.mkdir(parents=True, exist_ok=True)
            if "secret" in source:
                name = source["secret"]["secretName"]
                data = {k: v for (s, k), v in secrets.items() if s == name}
            else:
                name = source["configMap"]["name"]
                data = configmaps[name].get("data", {})
            items = source.get("secret", source.get("configMap")).get("items")
            for item in items or [{"key": k, "path": k} for k in data]:
                (local / item["path"]).write_text(data[item["key"]])
        else:
            raise RehearsalError(f"{plan.deployment}: volume {m.volume}: unsupported source {sorted(source)}")
        prefixes[m.path] = local
    if plan.image.venv_from:
        prefixes[plan.image.venv_from] = venv
    prefixes.setdefault(plan.workdir, root / plan.workdir.lstrip("/"))
    return PathMap(prefixes)


def start(plan: ContainerPlan, root: Path, venv: Path, claims: dict[str, Path],
          secrets: dict[tuple[str, str], str], configmaps: dict[str, dict], log_dir: Path,
          services: dict[str, str] | None = None) -> Running:
    """Start one container's command. Nothing from this process's environment leaks in: the env is the
    rendered container's over the image's, plus what a container runtime adds (HOSTNAME, HOME). Service
    addresses in env values ("<service>:<port>", see plan.local_services) resolve to this machine."""
    root.mkdir(parents=True, exist_ok=True)
    paths = _materialise(plan, root, venv, claims, secrets, configmaps)
    env = {k: paths.value(v) for k, v in plan.env.items()}
    for address, local in (services or {}).items():
        env = {k: v.replace(f"//{address}", f"//{local}") for k, v in env.items()}
    env.setdefault("HOSTNAME", plan.deployment)
    env.setdefault("HOME", str(root / "nonexistent"))  # the image's user has no home (Dockerfile useradd)
    if paths.local("/tmp") and any(m.path == "/tmp" for m in plan.mounts):
        env["TMPDIR"] = str(paths.local("/tmp"))
    workdir = paths.local(plan.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    executable = shutil.which(plan.argv[0], path=env.get("PATH", "")) if "/" not in plan.argv[0] else plan.argv[0]
    if executable is None:
        raise RehearsalError(f"{plan.deployment}: {plan.argv[0]} is not on the container's PATH {env.get('PATH')}")
    if "python" in plan.argv[0] and not Path(os.path.abspath(executable)).is_relative_to(os.path.abspath(venv)):
        raise RehearsalError(f"{plan.deployment}: {plan.argv[0]} resolves to {executable}, not the image's venv")
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{plan.deployment}-{plan.target}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen([executable, *plan.argv[1:]], cwd=workdir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return Running(plan, process, log_path, paths)


def wait_ready(running: list[Running], timeout_s: float) -> dict[str, float]:
    """Each container through its own probes, in the kubelet's order: startup first, then readiness and
    liveness.
    Returns the seconds each took; raises with the logs of those that exited or never got ready."""
    t0 = time.monotonic()
    pending = {r.plan.deployment: r for r in running}
    passed: dict[str, set[str]] = {name: set() for name in pending}
    took: dict[str, float] = {}
    with httpx.Client(timeout=3.0) as client:
        while pending and time.monotonic() - t0 < timeout_s:
            for name, r in list(pending.items()):
                if r.process.poll() is not None:
                    raise RehearsalError(f"{name} exited with {r.process.returncode} before it was ready:\n"
                                         f"{r.log_tail()}")
                for probe in r.plan.probes:
                    if probe.kind in passed[name]:
                        continue
                    try:
                        ok = client.get(f"http://127.0.0.1:{probe.port}{probe.path}").status_code < 400
                    except httpx.HTTPError:
                        ok = False
                    if not ok:
                        break
                    passed[name].add(probe.kind)
                if {p.kind for p in r.plan.probes} <= passed[name]:
                    took[name] = time.monotonic() - t0
                    del pending[name]
            time.sleep(0.5)
    if pending:
        details = "\n\n".join(f"{name} (passed {sorted(passed[name])}):\n{r.log_tail()}" for name, r in pending.items())
        raise RehearsalError(f"not ready in {timeout_s:.0f} s: {details}")
    return took


def stop(running: list[Running], timeout_s: float = 15.0) -> None:
    for r in running:
        if r.process.poll() is None:
            os.killpg(r.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for r in running:
        try:
            r.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(r.process.pid, signal.SIGKILL)
            r.process.wait()
