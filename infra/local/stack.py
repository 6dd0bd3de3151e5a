"""Start and stop the InteraRec processes on this machine: the five services and the demo shop.

Used by `make run` (infra/local/run.py) and by the end-to-end tests, so both exercise the same wiring.
Each process is its own process group with its log in <log_dir>/<name>.log."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

import httpx

from infra.kafka.broker import free_port
from services.common.tenants import hash_key

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ports:
    gateway: int = 8500
    storefront: int = 8600
    summarizer: int = 8601
    decomposer: int = 8602
    optimizer: int = 8603
    shop: int = 8700


@dataclass
class Service:
    name: str
    module: str
    port: int
    ready_path: str = "/readyz"
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # this process's own settings (an extra replica's port)


# Settings a developer may choose for the whole local stack (the rest is set per service below).
PASSED_THROUGH = ("INTERAREC_SHOP_LAYOUT", "INTERAREC_SHOP_PROFILE")
# The stack's own wiring: it picks these (ports, where the broker is, the URL it tells the shop), so a value
# from the user's environment would point a service away from what the stack waits for.
STACK_WIRING = ("INTERAREC_KAFKA_BOOTSTRAP_SERVERS", "INTERAREC_GATEWAY_PORT", "INTERAREC_STOREFRONT_PORT",
                "INTERAREC_SUMMARIZER_PORT", "INTERAREC_DECOMPOSER_PORT", "INTERAREC_OPTIMIZER_PORT",
                "INTERAREC_SHOP_PORT", "INTERAREC_STOREFRONT_PUBLIC_URL")


LOCAL_PREFIX = "INTERAREC_LOCAL_"


def user_settings(environ: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Every INTERAREC_* variable the user set, for `make run` and `make load-test` to pass to the services
    (they override the stack's demo defaults), and the names left out because the stack wires them itself."""
    # INTERAREC_LOCAL_* configure the local stack itself (e.g. its summarizer replicas), not the services.
    chosen = {k: v for k, v in environ.items() if k.startswith("INTERAREC_") and not k.startswith(LOCAL_PREFIX)}
    ignored = sorted(k for k in chosen if k in STACK_WIRING)
    return {k: v for k, v in chosen.items() if k not in STACK_WIRING}, ignored


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    bootstrap: str
    catalog_path: Path
    log_dir: Path
    var_dir: Path
    ports: Ports = field(default_factory=Ports)
    api_key: str = "demo-key"
    # Signs the browser session tokens the storefront mints and the gateway checks (one secret per run).
    token_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    # The demo shop's pages carry the capture script (make run); off, frames come only from the Playwright
    # agent the tests and the load test drive, never twice for one session.
    page_capture: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per service name, e.g. its Kafka user
    # Summarizer processes in one consumer group, as replicas of a Deployment would be: the frames topic's
    # partitions spread over them (INTERAREC_LOCAL_SUMMARIZER_REPLICAS for `make run` and `make load-test`).
    summarizer_replicas: int = 1
    services: list[Service] = field(default_factory=list)
    other_pids: dict[str, int] = field(default_factory=dict)  # processes it did not start (the local broker)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def storefront_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.storefront}"

    @property
    def shop_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.shop}"

    def env(self) -> dict[str, str]:
        p = self.ports
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTERAREC_") or k in PASSED_THROUGH}
        env.update({
            "PYTHONUNBUFFERED": "1",
            "INTERAREC_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "INTERAREC_CATALOG_PATH": str(self.catalog_path),
            "INTERAREC_VAR_DIR": str(self.var_dir),
            # Demo mode: the demo key is accepted and session tokens are signed with a per-process secret.
            # A real deployment configures hashed keys and a token secret instead.
            "INTERAREC_DEMO_MODE": "1",
            "INTERAREC_API_KEYS": f"demo:{hash_key(self.api_key)}",
            "INTERAREC_SHOP_API_KEY": self.api_key,
            "INTERAREC_STOREFRONT_CORS_ORIGINS": f"{self.shop_url},http://localhost:{p.shop}",
            # The demo shop's pages send their own frames (capture-js) to the gateway with session tokens.
            "INTERAREC_STOREFRONT_TOKEN_SECRET": self.token_secret,
            "INTERAREC_TENANT_ORIGINS": f"demo={self.shop_url},demo=http://localhost:{p.shop}",
            "INTERAREC_GATEWAY_PORT": str(p.gateway),
            "INTERAREC_STOREFRONT_PORT": str(p.storefront),
            "INTERAREC_SUMMARIZER_PORT": str(p.summarizer),
            "INTERAREC_DECOMPOSER_PORT": str(p.decomposer),
            "INTERAREC_OPTIMIZER_PORT": str(p.optimizer),
            "INTERAREC_SHOP_PORT": str(p.shop),
            "INTERAREC_STOREFRONT_PUBLIC_URL": self.storefront_url,
            # Item pictures: the demo shop serves the catalog's images under /images/ (a shop sets its own).
            "INTERAREC_IMAGE_BASE_URL": "/images/",
        })
        if self.page_capture:
            env["INTERAREC_SHOP_CAPTURE_GATEWAY_URL"] = self.gateway_url
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 120.0, progress=print, only: tuple[str, ...] | None = None) -> None:
        """Start every service, or only the named ones (e.g. ("demo-shop",) to capture shopper sessions)."""
        self.services = self.plan(only)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for svc in self.services:
            self._spawn(svc)
        try:
            self.wait_ready(timeout_s, progress)
        except BaseException:
            self.stop()
            raise

    def plan(self, only: tuple[str, ...] | None = None) -> list[Service]:
        """The processes start() runs: every service (the summarizer once per replica), or only the named ones."""
        p = self.ports
        services = [
            Service("gateway", "services.gateway", p.gateway),
            Service("storefront-api", "services.storefront_api", p.storefront),
            Service("summarizer", "services.summarizer", p.summarizer),
            *(self._summarizer_replica(n) for n in range(2, self.summarizer_replicas + 1)),
            Service("decomposer", "services.decomposer", p.decomposer),
            Service("optimizer", "services.optimizer", p.optimizer),
            Service("demo-shop", "services.demo_shop", p.shop, ready_path="/healthz"),
        ]
        return services if only is None else [svc for svc in services if svc.name in only]

    def _summarizer_replica(self, n: int) -> Service:
        """Summarizer replica n (n >= 2): the same group, its own metrics port and its own Faust state directory
        (RocksDB locks it), as a pod has; the first replica keeps the stack's port and state."""
        name, port = f"summarizer-{n}", free_port()
        env = {"INTERAREC_SUMMARIZER_PORT": str(port), "INTERAREC_VAR_DIR": str(self.var_dir / "replicas" / name)}
        return Service(name, "services.summarizer", port, env=env)

    @property
    def summarizers(self) -> list[Service]:
        return [s for s in self.services if s.module == "services.summarizer"]

    def add_summarizer(self, timeout_s: float = 120.0, progress=print) -> Service:
        """Start one more summarizer replica while the others run (scale-out); returns once it answers ready.
        The group then rebalances: the partitions spread over one more member."""
        numbers = [int(s.name.rsplit("-", 1)[1]) for s in self.summarizers if "-" in s.name]
        svc = self._summarizer_replica(max([1, *numbers]) + 1)
        self.services.append(svc)
        self._spawn(svc)
        self.wait_ready(timeout_s, progress, only=[svc])
        return svc

    def remove(self, name: str, timeout_s: float = 30.0) -> None:
        """Stop one process cleanly (SIGTERM, as Kubernetes scales a Deployment down) and forget it."""
        svc = self.service(name)
        _signal_group(svc.process, signal.SIGTERM)
        try:
            svc.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(svc.process, signal.SIGKILL)
            svc.process.wait(5)
        self.services.remove(svc)

    def _spawn(self, svc: Service) -> None:
        svc.log_path = self.log_dir / f"{svc.name}.log"
        with open(svc.log_path, "ab") as log:
            env = self.env() | self.service_env.get(svc.name, {}) | svc.env
            svc.process = subprocess.Popen([sys.executable, "-m", svc.module], cwd=REPO_ROOT, env=env,
                                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Stop one service abruptly (fault injection): no shutdown hooks, no final commits."""
        svc = self.service(name)
        _signal_group(svc.process, sig)
        svc.process.wait(15)

    def spawn(self, name: str) -> None:
        """Start a stopped service again without waiting for it (the caller measures its recovery)."""
        svc = self.service(name)
        if svc.process is not None and svc.process.poll() is None:
            raise StackError(f"{name} is still running (pid {svc.process.pid})")
        self._spawn(svc)

    def restart(self, name: str, timeout_s: float = 120.0, progress=print) -> float:
        """Start a stopped service again; returns the seconds until it answered ready."""
        started = time.monotonic()
        self.spawn(name)
        self.wait_ready(timeout_s, progress, only=[self.service(name)])
        return time.monotonic() - started

    def not_ready(self) -> list[str]:
        """Services whose readiness endpoint does not answer 200 right now (or whose process died)."""
        down = []
        with httpx.Client(timeout=2.0) as client:
            for svc in self.services:
                if svc.process is None or svc.process.poll() is not None:
                    down.append(f"{svc.name} (exited)")
                    continue
                try:
                    if client.get(f"http://127.0.0.1:{svc.port}{svc.ready_path}").status_code != 200:
                        down.append(svc.name)
                except httpx.HTTPError:
                    down.append(svc.name)
        return down

    def wait_ready(self, timeout_s: float, progress=print, only: list[Service] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(only or self.services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for svc in list(pending):
                    if svc.process is not None and svc.process.poll() is not None:
                        raise StackError(f"{svc.name} exited with code {svc.process.returncode}; "
                                         f"last log lines:\n{tail(svc.log_path)}")
                    try:
                        if client.get(f"http://127.0.0.1:{svc.port}{svc.ready_path}").status_code == 200:
                            pending.remove(svc)
                            progress(f"  ready: {svc.name:<15} http://127.0.0.1:{svc.port}")
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    names = ", ".join(s.name for s in pending)
                    raise StackError(f"not ready after {timeout_s:.0f}s: {names}; last log lines:\n"
                                     + "\n".join(f"--- {s.name}\n{tail(s.log_path)}" for s in pending))
                if pending:
                    time.sleep(0.5)

    def stop(self, timeout_s: float = 15.0) -> None:
        running = [s for s in self.services if s.process is not None and s.process.poll() is None]
        for svc in running:
            _signal_group(svc.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for svc in running:
            try:
                svc.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(svc.process, signal.SIGKILL)
                svc.process.wait(5)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def local_stack(say: Callable[[str], None], extra_env: dict[str, str] | None = None,
                page_capture: bool = False, isolated: bool = False) -> Iterator[Stack]:
    """Kafka (KAFKA_BOOTSTRAP_SERVERS if set, else a local broker installed from Maven Central on first use),
    the topics, the demo catalog and every service, for `make run` and `make load-test`; all stopped on exit.

    isolated (load tests, benchmarks): a fresh broker and fresh worker state in var/isolated/<pid>/, every
    process on free ports, so a measurement starts from empty topics and never meets another stack on this
    machine; its data and state are deleted afterwards (the logs stay).

    Every INTERAREC_* variable of this process's environment reaches the services (user_settings), then
    `extra_env`; a broker that cannot start is a StackError with one clear line."""
    from infra.kafka import broker as kafka_broker
    from services.common import config
    from services.common.demo_catalog import generate
    from services.common.topics import apply_topics

    var = config.var_dir()
    run_dir = var / "isolated" / str(os.getpid()) if isolated else var
    kafka = stack = None
    try:
        bootstrap = None if isolated else os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap:
            say(f"using the Kafka broker at {bootstrap}")
        else:
            try:
                if isolated:
                    port, controller = kafka_broker.free_ports(2)
                    kafka = kafka_broker.start(run_dir / "kafka", port=port, controller_port=controller)
                else:
                    kafka = kafka_broker.start()
            except kafka_broker.BrokerError as exc:
                raise StackError(f"Kafka cannot start: {exc}") from None
            bootstrap = kafka.bootstrap
            say(f"Kafka (KRaft, single node) ready at {bootstrap}")
        for line in apply_topics(bootstrap):
            say(f"  topics: {line}")
        catalog_path = config.catalog_path()
        generate(catalog_path.parent)
        chosen, ignored = user_settings(dict(os.environ))
        if chosen:
            say("passing your settings to the services: " + ", ".join(sorted(chosen)))
        if ignored:
            say("ignoring (the local stack sets these itself): " + ", ".join(ignored))
        ports = Ports(*(free_port() for _ in fields(Ports))) if isolated else Ports()
        stack = Stack(bootstrap=bootstrap, catalog_path=catalog_path, log_dir=run_dir / "run" / "logs",
                      var_dir=run_dir, ports=ports, extra_env={**chosen, **(extra_env or {})},
                      page_capture=page_capture, summarizer_replicas=summarizer_replicas(os.environ))
        if kafka is not None:
            stack.other_pids["kafka"] = kafka.pid
        if stack.summarizer_replicas > 1:
            say(f"summarizer: {stack.summarizer_replicas} replicas in one consumer group")
        say(f"starting services (logs in {stack.log_dir}/) ...")
        stack.start(progress=say)
        yield stack
    finally:
        if stack is not None:
            stack.stop()
        if kafka is not None:
            kafka.stop()
        if isolated:  # the broker's data (frames: large) and the workers' state; the logs stay
            for name in ("kafka", "faust", "replicas"):
                shutil.rmtree(run_dir / name, ignore_errors=True)


class BrokerControl:
    """Fault injection on a local broker from infra/kafka/broker.py (given as its loaded module, since that file
    is a script): stop and start it again on the same ports and data, or freeze it (SIGSTOP) so clients find
    it unreachable while it keeps its sockets and state."""

    def __init__(self, broker_module, broker, controller_port: int):
        self.module = broker_module
        self.broker = broker
        self.controller_port = controller_port

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def stop(self) -> None:
        self.broker.stop()

    def start(self, timeout_s: float = 90.0) -> float:
        """Start the stopped broker again (same data dir, ports, cluster id); returns seconds until it answered."""
        b = self.broker
        self.broker = self.module.start(b.data_dir, port=b.port, controller_port=self.controller_port, host=b.host,
                                        timeout=timeout_s)
        return self.broker.ready_seconds

    def pause(self) -> None:
        os.killpg(self.broker.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.broker.pid, signal.SIGCONT)


def summarizer_replicas(environ: Mapping[str, str]) -> int:
    """INTERAREC_LOCAL_SUMMARIZER_REPLICAS (default 1): more than the frames topic's partitions would sit idle."""
    from services.common.topics import FRAMES

    raw = environ.get("INTERAREC_LOCAL_SUMMARIZER_REPLICAS", "1")
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= FRAMES.partitions:
        raise StackError(f"INTERAREC_LOCAL_SUMMARIZER_REPLICAS must be a whole number from 1 to "
                         f"{FRAMES.partitions} (the frames topic's partitions), not {raw!r}")
    return n


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
