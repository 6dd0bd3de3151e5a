"""What a cluster would run, read from the chart's rendered objects and the Dockerfile: per container of ours,
its command, its exact environment, its volumes and its probes, with every in-container path mapped under a
local root so the processes can run on this machine (tests/deploy/ runs them).

Pure: no processes, no network. The Dockerfile is read for what the image adds to a container (ENV, WORKDIR,
CMD, installed Debian packages), following each target's FROM chain as `docker build --target` does."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

# What the python base image sets before our Dockerfile adds anything.
BASE_IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class ImageSpec:
    """One Dockerfile target as a container sees it."""

    target: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cmd: list[str] = field(default_factory=list)
    apt_packages: set[str] = field(default_factory=set)
    venv_from: str | None = None  # the path a `COPY --from=build` brought in (the installed virtualenv)


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    return lines


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), value)


def parse_dockerfile(text: str) -> dict[str, ImageSpec]:
    """Every named stage, with what it inherits from the stage it is built FROM."""
    args: dict[str, str] = {}
    stages: dict[str, ImageSpec] = {}
    stage: ImageSpec | None = None
    for line in logical_lines(text):
        instr, _, rest = line.partition(" ")
        instr = instr.upper()
        if instr == "ARG" and stage is None:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        elif instr == "FROM":
            parts = rest.split()
            base, name = parts[0], parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            base = _expand(base, args)
            parent = stages.get(base)
            stage = ImageSpec(target=name or base, env=dict(parent.env) if parent else {"PATH": BASE_IMAGE_PATH},
                              workdir=parent.workdir if parent else "/", cmd=list(parent.cmd) if parent else [],
                              apt_packages=set(parent.apt_packages) if parent else set(),
                              venv_from=parent.venv_from if parent else None)
            if name:
                stages[name] = stage
        elif stage is None:
            continue
        elif instr == "ENV":
            for token in shlex.split(rest):
                k, _, v = token.partition("=")
                stage.env[k] = _expand(v, stage.env)
        elif instr == "WORKDIR":
            stage.workdir = rest.strip()
        elif instr == "CMD":
            stage.cmd = json.loads(rest)
        elif instr == "COPY" and rest.startswith("--from="):
            stage.venv_from = rest.split()[-1]
        elif instr == "RUN" and "apt-get install" in rest:
            for command in rest.split("&&"):
                if "apt-get install" in command:
                    stage.apt_packages |= {w.split("=")[0] for w in command.split()[3:] if not w.startswith("-")}
    return stages


@dataclass
class Probe:
    kind: str  # startup, readiness, liveness
    path: str
    port: int


@dataclass
class Mount:
    path: str  # in the container
    volume: str
    source: dict  # the pod's volume entry
    read_only: bool = False
    sub_path: str | None = None


@dataclass
class ContainerPlan:
    """One container of one Deployment, as the kubelet would start it."""

    deployment: str
    component: str  # the app.kubernetes.io/name label
    target: str  # the Dockerfile target its image was built from
    argv: list[str]
    env: dict[str, str]  # container env over image env, secrets and field refs resolved (in-container paths)
    workdir: str
    mounts: list[Mount]
    probes: list[Probe]
    image: ImageSpec
    ports: dict[str, int] = field(default_factory=dict)  # the container's named ports

    def port(self) -> int:
        return self.probes[0].port


class PlanError(ValueError):
    pass


def _resolve_env(entries: list[dict], secrets: dict[tuple[str, str], str], configmaps: dict[str, dict],
                 pod_ip: str, where: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for e in entries or []:
        if "value" in e:
            env[e["name"]] = _expand_k8s(str(e["value"]), env)
            continue
        ref = e.get("valueFrom", {})
        if "secretKeyRef" in ref:
            key = (ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"])
            if key not in secrets:
                raise PlanError(f"{where}: env {e['name']} needs Secret {key[0]} key {key[1]}, which nobody created")
            env[e["name"]] = secrets[key]
        elif "configMapKeyRef" in ref:
            cm, key = ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
            env[e["name"]] = configmaps[cm]["data"][key]
        elif ref.get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[e["name"]] = pod_ip
        else:
            raise PlanError(f"{where}: env {e['name']}: unsupported valueFrom {ref}")
    return env


def _expand_k8s(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) references to earlier entries."""
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def image_target(image: str, repository: str) -> str | None:
    """The Dockerfile target of one of our images (<repository>-<target>:<tag>), None for anybody else's."""
    prefix = repository + "-"
    if not image.startswith(prefix):
        return None
    return image[len(prefix):].rsplit(":", 1)[0]


def plan_release(objects: list[dict], images: dict[str, ImageSpec], repository: str,
                 secrets: dict[tuple[str, str], str], pod_ip: str = "127.0.0.1") -> list[ContainerPlan]:
    """Every container of ours in every Deployment. A container of someone else's image is an error: the
    rehearsal is meant to run everything the release deploys."""
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    plans = []
    for d in (o for o in objects if o["kind"] == "Deployment"):
        spec = d["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        component = d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            where = f"Deployment/{d['metadata']['name']} container {c['name']}"
            target = image_target(c["image"], repository)
            if target is None:
                raise PlanError(f"{where}: image {c['image']} is not built from this repository's Dockerfile")
            if target not in images:
                raise PlanError(f"{where}: the Dockerfile has no target {target!r}")
            image = images[target]
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            probes = []
            for kind in ("startup", "readiness", "liveness"):
                probe = c.get(f"{kind}Probe")
                if probe and "httpGet" in probe:
                    port = probe["httpGet"]["port"]
                    probes.append(Probe(kind, probe["httpGet"]["path"], ports[port] if isinstance(port, str) else port))
            mounts = []
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    raise PlanError(f"{where}: mounts volume {m['name']}, which the pod does not declare")
                mounts.append(Mount(m["mountPath"], m["name"], volumes[m["name"]], m.get("readOnly", False),
                                    m.get("subPath")))
            env = dict(image.env)
            env.update(_resolve_env(c.get("env", []), secrets, configmaps, pod_ip, where))
            argv = list(c.get("command") or image.cmd) + list(c.get("args") or ([] if c.get("command") else []))
            plans.append(ContainerPlan(d["metadata"]["name"], component, target, argv, env,
                                       c.get("workingDir", image.workdir), mounts, probes, image, ports))
    return plans


def local_services(objects: list[dict], plans: list[ContainerPlan]) -> dict[str, str]:
    """Cluster DNS on one machine: "<service>:<port>" -> "127.0.0.1:<the selected container's port>"."""
    out = {}
    for svc in (o for o in objects if o["kind"] == "Service"):
        selector = svc["spec"].get("selector", {})
        targets = [p for p in plans if p.component == selector.get("app.kubernetes.io/name")]
        for port in svc["spec"]["ports"]:
            for p in targets:
                target = port.get("targetPort", port["port"])
                local = p.ports.get(target, target) if isinstance(target, str) else target
                out[f"{svc['metadata']['name']}:{port['port']}"] = f"127.0.0.1:{local}"
    return out


@dataclass
class PathMap:
    """In-container absolute paths -> local directories (longest prefix wins)."""

    prefixes: dict[str, Path]

    def local(self, container_path: str) -> Path | None:
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if container_path == prefix or container_path.startswith(prefix.rstrip("/") + "/"):
                return self.prefixes[prefix] / container_path[len(prefix):].lstrip("/")
        return None

    def value(self, value: str) -> str:
        """An env value with every mapped path in it (also inside PATH-like lists) made local."""
        parts = value.split(":")
        if all(p.startswith("/") for p in parts if p):
            return ":".join(str(self.local(p) or p) if p else p for p in parts)
        return value
