"""The `interarec` command for operators. `interarec status` reports a Helm release's health."""

from __future__ import annotations

import argparse
import json
import sys

from services.ops.health import build_report, format_report, report_dict
from services.ops.settings import StatusSettings


def status(args: argparse.Namespace) -> int:
    from kubernetes.client.rest import ApiException
    from kubernetes.config import ConfigException
    from urllib3.exceptions import HTTPError

    from services.ops.status import load_client, read_release

    try:
        api = load_client(args.kubeconfig, args.context)
        readings = read_release(api, args.namespace, args.release, timeout_s=args.timeout,
                                prometheus_url=args.prometheus_url or None)
    except ConfigException as exc:
        print(f"interarec status: no Kubernetes configuration: {exc}", file=sys.stderr)
        return 2
    except (ApiException, HTTPError, OSError) as exc:
        print(f"interarec status: Kubernetes API error: {exc}", file=sys.stderr)
        return 2
    report = build_report(args.namespace, args.release, readings, max_lag=args.max_lag, max_restarts=args.max_restarts)
    print(json.dumps(report_dict(report), indent=2) if args.json else format_report(report))
    return 0 if report.state == "ok" else 1


def parser() -> argparse.ArgumentParser:
    env = StatusSettings.from_env()
    top = argparse.ArgumentParser(prog="interarec", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    st = sub.add_parser("status", help="health of a Helm release: deployments, restarts, consumer lag, vLLM",
                        description="Exit code: 0 all ok, 1 degraded or down, 2 cannot reach the cluster.")
    st.add_argument("--namespace", "-n", default=env.namespace)
    st.add_argument("--release", "-r", default=env.release)
    st.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, "
                    "else the in-cluster service account)")
    st.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    st.add_argument("--max-lag", type=int, default=500, help="consumer lag above which a worker is degraded")
    st.add_argument("--max-restarts", type=int, default=3,
                    help="container restarts above which a component is degraded")
    st.add_argument("--timeout", type=float, default=5.0, help="seconds per metrics/health request")
    st.add_argument("--json", action="store_true", help="print the report as JSON")
    st.add_argument("--prometheus-url", default=env.prometheus_url,
                    help="read consumer lag from this Prometheus (every pod as scraped) instead of each pod's "
                         "/metrics through the API server's pod proxy")
    st.set_defaults(func=status)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)

