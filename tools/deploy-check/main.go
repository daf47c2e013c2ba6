// Command deploy-check checks printflow's container deployments offline, without a container
// engine or a cluster (scripts/deploy-check.sh runs it; docs/deploy.md says what each check
// covers and what it cannot):
//
//	deploy-check manifests [-prometheus-jobs NATIVE] [-extract DIR] FILE...
//	    `helm template` output decoded strictly into the Kubernetes API types (unknown kinds,
//	    unknown or duplicate fields fail), then cross-checked: references between objects,
//	    probes, resources, security contexts.
//	deploy-check compose -realm REALM FILE...
//	    a Compose project (files merged in order) loaded and validated against the Compose
//	    specification's schema by compose-go, every file it mounts or builds from present,
//	    client secrets' defaults equal to the dev realm's.
//	deploy-check chart-files CHART
//	    every entry of CHART/files is a link into the repository that resolves, and every file
//	    the templates read through .Files exists.
//	deploy-check dockerfile FILE CONTEXT
//	    every file a Dockerfile copies from the build context exists and is not .dockerignore'd.
//	deploy-check same-jobs NATIVE OVERLAY
//	    a Prometheus overlay scrapes the same jobs as the native config (tests' jobs aside).
//	deploy-check same-datasources NATIVE OVERLAY
//	    a Grafana data source overlay has the native data sources (names, uids, types).
//
// Each prints what it checked; the exit status is 1 when any check failed, 2 on bad usage.
package main

import (
	"fmt"
	"os"
	"strings"
)

// report collects the outcome of one subcommand: failures make the exit status non-zero,
// notes are printed as information.
type report struct {
	failures []string
	notes    []string
}

func (r *report) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// finish prints the notes, the failures and a summary line; returns the exit status.
func (r *report) finish(what string) int {
	for _, n := range r.notes {
		fmt.Printf("  note: %s\n", n)
	}
	for _, f := range r.failures {
		fmt.Printf("  FAIL: %s\n", f)
	}
	if len(r.failures) > 0 {
		fmt.Printf("%s: %d problem(s)\n", what, len(r.failures))
		return 1
	}
	fmt.Printf("%s: ok\n", what)
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, strings.TrimSpace(`
usage: deploy-check manifests [-prometheus-jobs NATIVE] [-extract DIR] FILE...
       deploy-check compose -realm REALM FILE...
       deploy-check chart-files CHART
       deploy-check dockerfile FILE CONTEXT
       deploy-check same-jobs NATIVE OVERLAY
       deploy-check same-datasources NATIVE OVERLAY`))
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	var code int
	switch os.Args[1] {
	case "manifests":
		code = runManifests(args)
	case "compose":
		code = runCompose(args)
	case "chart-files":
		code = runChartFiles(args)
	case "dockerfile":
		code = runDockerfile(args)
	case "same-jobs":
		code = runSameJobs(args)
	case "same-datasources":
		code = runSameDatasources(args)
	default:
		usage()
	}
	os.Exit(code)
}
