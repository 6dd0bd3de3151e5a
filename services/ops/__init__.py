"""Operating InteraRec on Kubernetes: the Helm chart's generated files and the `interarec` CLI."""
