"""Entry points of the runtime packages: a process starts from a service's `__main__` (serve(build(from_env())))
or from the `interarec` console command; the other `python -m` modules are the operator tools the README
documents. A new `if __name__ == "__main__":` fails here until it is one of those (or folded into the CLI)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {f"services/{s}/__main__.py" for s in
            ("gateway", "summarizer", "decomposer", "optimizer", "storefront_api", "demo_shop", "shoppers", "eval")}
CONSOLE = {"services/cli.py"}  # `interarec status|eval`
OPERATOR_TOOLS = {
    "services/common/deadletters.py",  # list / replay dead letters (README: Dead letters)
    "services/common/demo_catalog.py",  # make catalog
    "services/common/tenants.py",  # a tenant's new API key
    "services/common/topics.py",  # list / apply the Kafka topics
    "services/ops/chart_topics.py",  # make chart: the topics into the Helm chart
    "services/ops/healthcheck.py",  # the images' HEALTHCHECK
    "services/eval/bench_page_render.py",  # a benchmark still inside the evaluation package
}


def test_every_python_m_module_is_a_known_entry_point():
    mains = {str(p.relative_to(ROOT)) for p in (ROOT / "services").rglob("*.py")
             if 'if __name__ == "__main__":' in p.read_text()}
    assert mains - SERVICES - CONSOLE - OPERATOR_TOOLS == set()
    assert SERVICES | CONSOLE <= mains  # each service still starts with `python -m services.<name>`


def test_status_is_reached_through_the_console_command(capsys):
    from services.cli import main

    try:
        main(["status", "--help"])
    except SystemExit as exc:  # argparse answers --help by exiting 0
        assert exc.code == 0
    assert "--namespace" in capsys.readouterr().out


def test_status_options_default_to_their_declared_settings(monkeypatch):
    from infra import settings_doc
    from services.common.settings import table
    from services.ops.cli import parser

    assert "| `INTERAREC_RELEASE` |" in table(settings_doc.SERVICES)
    monkeypatch.setenv("INTERAREC_RELEASE", "shop-a")
    monkeypatch.setenv("INTERAREC_NAMESPACE", " ")  # blank: the default
    args = parser().parse_args(["status"])
    assert (args.release, args.namespace, args.prometheus_url) == ("shop-a", "default", "")
