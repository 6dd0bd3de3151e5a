// Package main exists only so that this module pins k8s.io/kubernetes and the versions of its staging
// modules: `go build k8s.io/kubernetes/cmd/kube-apiserver` from this folder builds the API server the
// `interarec status` test runs against (k8s.io/kubernetes cannot be `go install`ed: its go.mod has replace
// directives).
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
