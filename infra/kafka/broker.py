"""A real single-node Apache Kafka 4.x (KRaft, combined broker+controller) for local runs and tests.

The broker comes from Maven Central (infra/kafka/pom.xml, copied into <var>/kafka/<version>/libs by `mvn`)
and runs on the machine's Java 17+. Stdlib + kafka-python only, so tests can load this file by path.

    python infra/kafka/broker.py install                 # once: seconds to a minute, ~45 MB
    python infra/kafka/broker.py start [--port 9092]     # daemonised, returns when the broker answers
    python infra/kafka/broker.py status | stop

start() can add a SASL_SSL listener with SCRAM-SHA-512 users (SaslSslListener), as Strimzi's TLS listener
with `authentication: scram-sha-512` runs it, so clients' TLS and SCRAM settings are tested against a real
broker. PLAINTEXT stays the inter-broker listener and the one this module probes.

Environment: INTERAREC_VAR_DIR (default <repo>/var), INTERAREC_MAVEN_OFFLINE=1 (resolve from ~/.m2 only),
INTERAREC_KAFKA_JVM_OPTS (extra JVM flags, appended last so they win).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.yaml"

NODE_ID = 1
# Above the frames topic's 2 MiB and the dead-letter topic's 4 MiB record-batch limits (topic configs cap lower).
MESSAGE_MAX_BYTES = 4 * 1024 * 1024
# Must hold the largest batch a follower/fetcher may need; 2x the message cap plus headroom.
REPLICA_FETCH_MAX_BYTES = 2 * MESSAGE_MAX_BYTES

PID_FILE = "kafka.pid"
PROPS_FILE = "server.properties"
CONSOLE_LOG = "server.log"  # JVM stdout/stderr (crashes, early failures)
KAFKA_LOG = "kafka.log"  # log4j2 (see log4j2.yaml)
LOG_DIRS = "kraft-combined-logs"

# Fast start on 2 cores with a small heap: Serial GC avoids G1's concurrent threads and region setup, C1-only JIT
# (TieredStopAtLevel=1) cuts warm-up compilation; both measured faster to ready than Kafka's default G1 + C2.
JVM_COMMON = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Dlog4j2.formatMsgNoLookups=true",
)
# The broker's heap is fixed and touched at start, as production brokers run (Kafka's docs: equal -Xms and -Xmx):
# a heap growing from -Xms towards -Xmx made its RSS climb 15 % through a 30-min soak without any leak, which hid
# what RSS is watched for (off-heap growth).
BROKER_HEAP = ("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch")
TOOL_HEAP = ("-Xms64m", "-Xmx256m")


@dataclass(frozen=True)
class SaslSslListener:
    """An extra client listener: TLS with the broker's PKCS12 keystore, SASL SCRAM-SHA-512 logins."""

    port: int
    keystore: Path  # PKCS12: the broker's private key and certificate chain
    keystore_password: str = field(repr=False)
    # SCRAM-SHA-512 credentials written when the storage is formatted (a fresh data dir), name -> password
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Enforce ACLs (KRaft's StandardAuthorizer, as Strimzi's `authorization: simple`): a SASL user may do only
    # what its ACLs allow. The PLAINTEXT listeners' ANONYMOUS principal and `super_users` may do anything.
    authorizer: bool = False
    super_users: tuple[str, ...] = ()
    # The same listener once more at another loopback address (host, port), e.g. 127.0.0.2, which the broker's
    # certificate does not name: clients verifying host names must refuse it.
    alias: tuple[str, int] | None = None


class BrokerError(RuntimeError):
    """Provisioning or starting the broker failed; the message says why and shows the relevant log tail."""


# ---------------------------------------------------------------------------------------------- paths, versions


def var_dir() -> Path:
    return Path(os.environ.get("INTERAREC_VAR_DIR", "").strip() or REPO_ROOT / "var")


def default_cache_dir() -> Path:
    return var_dir() / "kafka"


def default_data_dir() -> Path:
    return var_dir() / "kafka" / "data"


def kafka_version() -> str:
    """The version pinned in pom.xml (single source of truth)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise BrokerError(f"{POM} has no <kafka.version> property")
    return node.text.strip()


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def kafka_home(cache_dir: Path | None = None) -> Path:
    return Path(cache_dir or default_cache_dir()) / kafka_version()


def is_installed(cache_dir: Path | None = None) -> bool:
    marker = kafka_home(cache_dir) / ".installed"
    return marker.is_file() and marker.read_text().split() == [kafka_version(), _pom_digest()]


# ---------------------------------------------------------------------------------------------- install


def install(cache_dir: Path | None = None) -> Path:
    """Download the broker's jars into <cache_dir>/<version>/libs (idempotent). Returns <cache_dir>/<version>."""
    version = kafka_version()
    cache = Path(cache_dir or default_cache_dir())
    home = cache / version
    if is_installed(cache):
        return home
    cache.mkdir(parents=True, exist_ok=True)
    # A lock, so concurrent test sessions or `make` targets don't race on the same folder.
    with open(cache / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed(cache):
            return home
        mvn = shutil.which("mvn")
        if not mvn:
            raise BrokerError("Maven (mvn) is needed to provision Kafka: apt-get install -y maven")
        print(f"provisioning Apache Kafka {version} from Maven Central into {home} (first time only)...", flush=True)
        started = time.monotonic()
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        base = [mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}"]
        offline_only = os.environ.get("INTERAREC_MAVEN_OFFLINE", "").strip() in ("1", "true", "yes")
        # Online first; if the network is flaky but ~/.m2 already has everything, an offline retry still succeeds.
        attempts = [base + ["-o"]] if offline_only else [base, base + ["-o"]]
        failures: list[str] = []
        for i, cmd in enumerate(attempts):
            if i:
                print("  maven failed online; retrying offline from the local repository (~/.m2)...", flush=True)
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  stdin=subprocess.DEVNULL)
            if proc.returncode == 0:
                break
            failures.append(f"--- mvn {shlex.join(cmd[1:])}\n{_mvn_errors(proc.stdout)}")
        else:
            shutil.rmtree(staging, ignore_errors=True)
            raise BrokerError(f"mvn could not fetch Kafka {version}:\n" + "\n".join(failures))
        if not (staging / f"kafka_2.13-{version}.jar").is_file():
            raise BrokerError(f"mvn finished but {staging} has no kafka_2.13-{version}.jar")
        libs = home / "libs"
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)  # atomic: a half-finished download never looks installed
        jars = list(libs.glob("*.jar"))
        (home / ".installed").write_text(f"{version}\n{_pom_digest()}\n")
        size_mb = sum(j.stat().st_size for j in jars) / 1e6
        print(f"  installed {len(jars)} jars ({size_mb:.0f} MB) in {time.monotonic() - started:.0f} s", flush=True)
    return home


def _mvn_errors(output: str) -> str:
    """Maven's failure output without colour codes and its generic "re-run with -e / see Help" boilerplate."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in output.splitlines()]
    noise = re.compile(r"^\[ERROR\]\s*$|-e switch|-X switch|possible solutions|\[Help \d+\] http")
    return _tail_text("\n".join(line for line in lines if line and not noise.search(line)), 25)


# ---------------------------------------------------------------------------------------------- configuration


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port (the OS picks; tiny race until the broker binds it, fine for tests)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct unused ports: all sockets stay open until every port is picked, so none repeats."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]


def server_properties(data_dir: Path, port: int = 9092, controller_port: int = 9093, host: str = "127.0.0.1",
                      sasl_ssl: SaslSslListener | None = None) -> str:
    """The broker's server.properties: combined KRaft node, static one-voter quorum, single-replica defaults."""
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": NODE_ID,
        # Static voters (not --standalone): the endpoint is not baked into the metadata log, so ports can change
        # between runs on the same data dir.
        "controller.quorum.voters": f"{NODE_ID}@{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(Path(data_dir).resolve() / LOG_DIRS),
        "num.partitions": 4,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Internal topics default to 50 partitions each; a handful is plenty for one node and creates much faster.
        "offsets.topic.num.partitions": 4,
        "transaction.state.log.num.partitions": 4,
        "share.coordinator.state.topic.num.partitions": 4,
        "group.initial.rebalance.delay.ms": 0,
        "message.max.bytes": MESSAGE_MAX_BYTES,
        "replica.fetch.max.bytes": REPLICA_FETCH_MAX_BYTES,
        "replica.fetch.response.max.bytes": REPLICA_FETCH_MAX_BYTES,
        "auto.create.topics.enable": "true",
        # Fewer threads than the defaults (3 network, 8 io): this is one node on 2 cores.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.retention.check.interval.ms": 60000,
    }
    if sasl_ssl is not None:
        endpoints = {"SASL_SSL": (host, sasl_ssl.port)} | ({"SASL_SSL_ALIAS": sasl_ssl.alias} if sasl_ssl.alias else {})
        props["sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
        for name, (listener_host, listener_port) in endpoints.items():
            props["listeners"] += f",{name}://{listener_host}:{listener_port}"
            props["advertised.listeners"] += f",{name}://{listener_host}:{listener_port}"
            props["listener.security.protocol.map"] += f",{name}:SASL_SSL"
            prefix = f"listener.name.{name.lower()}."
            props |= {
                f"{prefix}sasl.enabled.mechanisms": "SCRAM-SHA-512",
                f"{prefix}scram-sha-512.sasl.jaas.config":
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                f"{prefix}ssl.keystore.type": "PKCS12",
                f"{prefix}ssl.keystore.location": str(Path(sasl_ssl.keystore).resolve()),
                f"{prefix}ssl.keystore.password": sasl_ssl.keystore_password,
            }
        if sasl_ssl.authorizer:
            props["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            props["super.users"] = ";".join(f"User:{u}" for u in ("ANONYMOUS", *sasl_ssl.super_users))
    lines = ["# generated by infra/kafka/broker.py; rewritten on every start"]
    lines += [f"{k}={v}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


def read_properties(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def new_cluster_id() -> str:
    """A Kafka Uuid as the storage tool prints it (base64url, no padding); like Uuid.randomUuid, never '-' first."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def java_command(home: Path, data_dir: Path, heap: tuple[str, ...], main_class: str, *args: str) -> list[str]:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    java = (shutil.which("java", path=str(Path(java_home) / "bin")) if java_home else None) or shutil.which("java")
    if not java:
        raise BrokerError("Java 17+ is needed to run Kafka: apt-get install -y openjdk-17-jre-headless")
    extra = shlex.split(os.environ.get("INTERAREC_KAFKA_JVM_OPTS", ""))
    return [
        java, *heap, *JVM_COMMON,
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        f"-Dkafka.logs.dir={Path(data_dir).resolve()}",
        *extra,
        "-cp", str(home / "libs" / "*"),
        main_class, *args,
    ]


def format_storage(home: Path, data_dir: Path, scram_users: Mapping[str, str] | None = None) -> bool:
    """Format the KRaft log dir once (writes meta.properties), with SCRAM-SHA-512 credentials for `scram_users`
    (KRaft keeps them in the metadata log). Returns False if it was already formatted."""
    if (Path(data_dir) / LOG_DIRS / "meta.properties").is_file():
        return False
    scram = [arg for name, password in (scram_users or {}).items()
             for arg in ("--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]")]
    cmd = java_command(home, data_dir, TOOL_HEAP, "kafka.tools.StorageTool",
                       "format", "-t", new_cluster_id(), "-c", str(Path(data_dir) / PROPS_FILE), *scram)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BrokerError(f"kafka storage format failed (exit {proc.returncode}):\n{_tail_text(proc.stdout, 30)}")
    return True


def cluster_id(data_dir: Path) -> str | None:
    meta = Path(data_dir) / LOG_DIRS / "meta.properties"
    return read_properties(meta).get("cluster.id") if meta.is_file() else None


# ---------------------------------------------------------------------------------------------- process handling


def _tail_text(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def log_tail(data_dir: Path, lines: int = 40) -> str:
    parts = []
    for name in (CONSOLE_LOG, KAFKA_LOG):
        path = Path(data_dir) / name
        if path.is_file() and path.stat().st_size:
            parts.append(f"--- {path} (last {lines} lines)\n" + _tail_text(path.read_text(errors="replace"), lines))
    return "\n".join(parts) or f"(no log output in {data_dir})"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    """Guard against a recycled pid: the process must be kafka.Kafka with this data dir's server.properties."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid file
    return b"kafka.Kafka" in cmdline and str(Path(data_dir).resolve() / PROPS_FILE).encode() in cmdline


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel SIGTERM the JVM if the Python process that started it dies (pytest killed
    with -9, a crashed `make run`). ctypes is resolved here, in the parent: importing after fork can deadlock."""
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None  # not glibc Linux: atexit still stops the broker on a normal exit
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


def describe(bootstrap: str, timeout_s: float = 5.0) -> dict:
    """One metadata round-trip (kafka-python admin describe_cluster)."""
    from kafka.admin import KafkaAdminClient

    ms = int(timeout_s * 1000)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="interarec-broker-probe",
                             request_timeout_ms=ms, bootstrap_timeout_ms=ms)
    try:
        return admin.describe_cluster()
    finally:
        admin.close()


def wait_ready(bootstrap: str, timeout_s: float, alive: Callable[[], bool] = lambda: True,
               expect_cluster_id: str | None = None) -> float:
    """Block until the broker answers a metadata request listing itself. Returns seconds waited."""
    host, _, port = bootstrap.rpartition(":")
    started = time.monotonic()
    deadline = started + timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not alive():
            raise BrokerError(f"the broker process exited before it was ready ({last_error})")
        try:
            # Cheap TCP probe first, so kafka-python isn't asked (and doesn't log) while the JVM is still booting.
            with socket.create_connection((host, int(port)), timeout=1.0):
                pass
            info = describe(bootstrap, timeout_s=min(5.0, max(1.0, deadline - time.monotonic())))
            if expect_cluster_id and info.get("cluster_id") != expect_cluster_id:
                raise BrokerError(f"{bootstrap} is a different Kafka cluster ({info.get('cluster_id')}, "
                                  f"expected {expect_cluster_id}): is another broker on that port?")
            if any(not b.get("is_fenced", False) for b in info.get("brokers") or []):
                return time.monotonic() - started
            last_error = "metadata lists no unfenced broker yet"
        except BrokerError:
            raise
        except Exception as exc:  # connection refused, NoBrokersAvailable, timeouts: keep polling
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.25)
    raise TimeoutError(f"the broker did not answer at {bootstrap} within {timeout_s:.0f} s ({last_error})")


class Broker:
    """A running (or adopted, via the pid file) local broker. Use as a context manager or call stop()."""

    def __init__(self, data_dir: Path, host: str, port: int, pid: int, process: subprocess.Popen | None = None,
                 version: str = "", ready_seconds: float | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.pid = pid
        self.version = version
        self.ready_seconds = ready_seconds
        self._process = process

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return _pid_alive(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (Kafka shuts down cleanly), wait up to `timeout`, then SIGKILL."""
        atexit.unregister(self.stop)
        if self.alive():
            self._signal(signal.SIGTERM)
            if not self._wait(timeout):
                self._signal(signal.SIGKILL)
                self._wait(10.0)
        pid_file = self.data_dir / PID_FILE
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(pid_file.read_text().strip()) == self.pid:
                pid_file.unlink()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            try:
                os.killpg(self.pid, sig)  # own process group (start_new_session)
            except PermissionError:
                os.kill(self.pid, sig)

    def _wait(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(self.pid):
                return True
            time.sleep(0.1)
        return False

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Broker(bootstrap={self.bootstrap!r}, pid={self.pid}, data_dir={str(self.data_dir)!r})"


def running(data_dir: Path | None = None) -> Broker | None:
    """The broker recorded in data_dir's pid file, if that process is still our broker."""
    data_dir = Path(data_dir or default_data_dir())
    try:
        pid = int((data_dir / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if not _is_our_broker(pid, data_dir):
        return None
    props = read_properties(data_dir / PROPS_FILE)
    plaintext = next(a for a in props["advertised.listeners"].split(",") if a.startswith("PLAINTEXT://"))
    host, _, port = plaintext.removeprefix("PLAINTEXT://").rpartition(":")
    return Broker(data_dir, host, int(port), pid, version=kafka_version())


def start(data_dir: Path | None = None, port: int = 9092, controller_port: int = 9093, host: str = "127.0.0.1",
          *, cache_dir: Path | None = None, timeout: float = 90.0, detach: bool = False,
          sasl_ssl: SaslSslListener | None = None) -> Broker:
    """Install if needed, format storage once, launch the broker and wait until it answers metadata requests.

    detach=False ties the JVM to this Python process (stopped at exit, SIGTERMed if we die); detach=True leaves it
    running on its own (the CLI's `start`), to be stopped with `stop` via the pid file.
    """
    data_dir = Path(data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if (existing := running(data_dir)) is not None:
        raise BrokerError(f"a broker is already running for {data_dir} (pid {existing.pid}, {existing.bootstrap})")
    endpoints = [(host, p) for p in (port, controller_port) + ((sasl_ssl.port,) if sasl_ssl else ())]
    endpoints += [sasl_ssl.alias] if sasl_ssl and sasl_ssl.alias else []
    for h, p in endpoints:
        if not _port_free(h, p):
            raise BrokerError(f"port {h}:{p} is already in use (another broker? pick --port / use free_port())")
    home = install(cache_dir)
    props_path = data_dir / PROPS_FILE
    props_path.write_text(server_properties(data_dir, port, controller_port, host, sasl_ssl))
    format_storage(home, data_dir, sasl_ssl.users if sasl_ssl else None)
    expected_cluster = cluster_id(data_dir)

    cmd = java_command(home, data_dir, BROKER_HEAP, "kafka.Kafka", str(props_path))
    started = time.monotonic()
    with open(data_dir / CONSOLE_LOG, "ab") as console:
        console.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {shlex.join(cmd)}\n".encode())
        console.flush()
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                   cwd=data_dir, start_new_session=True,
                                   preexec_fn=None if detach else _die_with_parent_hook())
    (data_dir / PID_FILE).write_text(f"{process.pid}\n")
    broker = Broker(data_dir, host, port, process.pid, process=process, version=kafka_version())
    if not detach:
        atexit.register(broker.stop)
    try:
        wait_ready(broker.bootstrap, timeout, alive=broker.alive, expect_cluster_id=expected_cluster)
    except (BrokerError, TimeoutError) as exc:
        broker.stop(timeout=10)
        raise BrokerError(f"Kafka {broker.version} did not start at {broker.bootstrap}: {exc}\n"
                          f"{log_tail(data_dir)}") from None
    except BaseException:  # Ctrl-C while waiting: don't leave a half-started JVM behind
        broker.stop(timeout=10)
        raise
    broker.ready_seconds = time.monotonic() - started
    return broker


@contextlib.contextmanager
def started(data_dir: Path | None = None, **kwargs: object) -> Iterator[Broker]:
    broker = start(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield broker
    finally:
        broker.stop()


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python infra/kafka/broker.py",
                                     description="Local single-node Apache Kafka (KRaft) from Maven Central.")
    parser.add_argument("command", choices=["install", "start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, default=None, help=f"default {default_data_dir()}")
    parser.add_argument("--port", type=int, default=9092, help="client (PLAINTEXT) port, default 9092")
    parser.add_argument("--controller-port", type=int, default=None, help="KRaft controller port, default port+1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the broker to answer")
    parser.add_argument("--foreground", action="store_true", help="start: stay attached; Ctrl-C stops the broker")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir or default_data_dir())

    try:
        if args.command == "install":
            home = install()
            print(f"Apache Kafka {kafka_version()} ready in {home / 'libs'}")
            return 0
        if args.command == "status":
            broker = running(data_dir)
            if broker is None:
                print(f"down (no running broker for {data_dir})")
                return 1
            try:
                info = describe(broker.bootstrap)
            except Exception as exc:
                print(f"starting or unhealthy: pid {broker.pid} alive but {broker.bootstrap} does not answer ({exc})")
                return 1
            print(f"up: {broker.bootstrap} pid {broker.pid} cluster {info.get('cluster_id')} data {data_dir}")
            return 0
        if args.command == "stop":
            broker = running(data_dir)
            if broker is None:
                (data_dir / PID_FILE).unlink(missing_ok=True)
                print(f"not running ({data_dir})")
                return 0
            t0 = time.monotonic()
            broker.stop()
            print(f"stopped pid {broker.pid} in {time.monotonic() - t0:.1f} s")
            return 0
        # start
        if (broker := running(data_dir)) is not None:
            print(f"already running: {broker.bootstrap} pid {broker.pid}")
            return 0
        broker = start(data_dir, args.port, args.controller_port or args.port + 1, args.host,
                       timeout=args.timeout, detach=not args.foreground)
        print(f"Kafka {broker.version} up at {broker.bootstrap} (pid {broker.pid}, "
              f"ready in {broker.ready_seconds:.1f} s, logs {data_dir / KAFKA_LOG})", flush=True)
        if args.foreground:
            with contextlib.suppress(KeyboardInterrupt):
                while broker.alive():
                    time.sleep(0.5)
            broker.stop()
        return 0
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
