package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/compose-spec/compose-go/v2/types"
)

// Which realm client each client-secret variable of a Compose service stands for: their dev
// defaults must be the realm's, or the services could not sign in to the Keycloak it imports.
var secretClients = map[string]map[string]string{
	"shop":    {"SHOP_AUTH_CLIENT_SECRET": "shop-api", "TELEMETRY_CLIENT_SECRET": "shop-api"},
	"crm":     {"CRM_AUTH_CLIENT_SECRET": "crm-api", "TELEMETRY_CLIENT_SECRET": "crm-api"},
	"mes":     {"MES_AUTH_CLIENT_SECRET": "mes-api", "TELEMETRY_CLIENT_SECRET": "mes-api"},
	"gate":    {"GATE_OIDC_CLIENT_SECRET": "telemetry-console"},
	"traffic": {"TRAFFIC_CLIENT_SECRET": "traffic"},
}

// The Compose config holding the prometheus client's secret.
const promSecretConfig = "prometheus-client-secret"

func composeGoVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/compose-spec/compose-go/v2" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func runCompose(args []string) int {
	fs := flag.NewFlagSet("compose", flag.ExitOnError)
	realmPath := fs.String("realm", "", "the dev realm file whose client secrets the defaults must equal")
	_ = fs.Parse(args)
	files := fs.Args()
	if len(files) == 0 || *realmPath == "" {
		usage()
	}
	what := "compose " + strings.Join(files, " + ")
	r := &report{}
	ctx := context.Background()
	// No environment at all: the check sees the defaults, what a fresh checkout runs.
	opts, err := cli.NewProjectOptions(files,
		cli.WithWorkingDirectory(filepath.Dir(files[0])),
		cli.WithEnv([]string{}),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		r.fail("%v", err)
		return r.finish(what)
	}
	// The merged, interpolated model against the Compose specification's JSON schema (the one
	// compose-go embeds), explicitly, then the full load with its consistency checks.
	model, err := opts.LoadModel(ctx)
	if err != nil {
		r.fail("loading: %v", err)
		return r.finish(what)
	}
	if err := schema.Validate(model); err != nil {
		r.fail("against the Compose specification's schema: %v", err)
		return r.finish(what)
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		r.fail("loading: %v", err)
		return r.finish(what)
	}
	fmt.Printf("%s: valid against the Compose specification's schema (compose-go %s); %d services\n",
		what, composeGoVersion(), len(project.Services))

	mounts, before := 0, len(r.failures)
	for _, name := range sortedServiceNames(project) {
		svc := project.Services[name]
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			mounts++
			if _, err := os.Stat(v.Source); err != nil {
				r.fail("service %s mounts %s, which does not exist", name, v.Source)
			}
			if !v.ReadOnly {
				r.fail("service %s mounts %s writable: configuration is mounted read-only", name, v.Source)
			}
		}
		if b := svc.Build; b != nil {
			checkBuild(name, b, r)
		}
	}
	for name, c := range project.Configs {
		if c.File != "" {
			mounts++
			if _, err := os.Stat(c.File); err != nil {
				r.fail("config %s is the file %s, which does not exist", name, c.File)
			}
		}
	}
	if len(r.failures) == before {
		r.note("%d mounted files and folders present, all read-only", mounts)
	}
	checkComposeSecrets(project, *realmPath, r)
	return r.finish(what)
}

func sortedServiceNames(p *types.Project) []string {
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkBuild: the context and Dockerfile exist and the Dockerfile has the target stage.
func checkBuild(service string, b *types.BuildConfig, r *report) {
	dockerfile := b.Dockerfile
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(b.Context, dockerfile)
	}
	if st, err := os.Stat(b.Context); err != nil || !st.IsDir() {
		r.fail("service %s builds from %s, which is not a folder", service, b.Context)
		return
	}
	stages, _, err := parseDockerfile(dockerfile)
	if err != nil {
		r.fail("service %s: %v", service, err)
		return
	}
	if b.Target != "" && !stages[b.Target] {
		r.fail("service %s builds target %q, which %s does not have", service, b.Target, dockerfile)
	}
}

func checkComposeSecrets(p *types.Project, realmPath string, r *report) {
	realm, err := readRealm(realmPath)
	if err != nil {
		r.fail("%v", err)
		return
	}
	checked := 0
	for service, vars := range secretClients {
		svc, ok := p.Services[service]
		if !ok {
			r.fail("service %s is missing", service)
			continue
		}
		for v, client := range vars {
			got := svc.Environment[v]
			want, ok := realm.clientSecrets[client]
			switch {
			case !ok:
				r.fail("%s: the realm has no client %s with a ${VAR:default} secret", realmPath, client)
			case got == nil:
				r.fail("service %s does not set %s", service, v)
			case *got != want.def:
				r.fail("service %s: %s defaults to %q, the realm's %s secret to %q", service, v, *got, client, want.def)
			default:
				checked++
			}
		}
	}
	if c, ok := p.Configs[promSecretConfig]; !ok {
		r.fail("config %s is missing", promSecretConfig)
	} else if want := realm.clientSecrets["prometheus"]; c.Content != want.def {
		r.fail("config %s defaults to %q, the realm's prometheus secret to %q", promSecretConfig, c.Content, want.def)
	} else {
		checked++
	}
	// Keycloak must see every override of the realm's placeholders.
	if kc, ok := p.Services["keycloak"]; ok {
		for _, v := range realm.placeholderVars {
			if _, ok := kc.Environment[v]; !ok {
				r.fail("service keycloak does not pass %s on (a placeholder of %s)", v, realmPath)
			}
		}
	}
	r.note("%d client secret defaults equal the dev realm's; keycloak passes on its %d placeholders", checked, len(realm.placeholderVars))
}
