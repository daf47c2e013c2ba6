package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// printflow's own services: probes must be readiness /readyz and liveness /healthz.
var probedServices = map[string]bool{"shop": true, "crm": true, "mes": true, "gate": true}

// rendering is what one `helm template` output holds, by kind and name.
type rendering struct {
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    map[string]*corev1.Service
	claims      map[string]bool
	accounts    map[string]bool
	roles       map[string]bool
	deployments map[string]*appsv1.Deployment
	pods        []podRef // pod templates of Deployments and Jobs
	external    map[string]bool
}

type podRef struct {
	owner  string
	labels map[string]string
	spec   *corev1.PodSpec
}

func runManifests(args []string) int {
	fs := flag.NewFlagSet("manifests", flag.ExitOnError)
	nativeProm := fs.String("prometheus-jobs", "", "native prometheus.yml: every rendered prometheus.yml must scrape its jobs")
	extract := fs.String("extract", "", "write every ConfigMap's keys to DIR/<file name>/<ConfigMap>/<key>, for the tools that check their contents")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		usage()
	}
	code := 0
	for _, path := range fs.Args() {
		r := &report{}
		objs, err := decodeFile(path, r)
		if err != nil {
			r.fail("%s: %v", path, err)
		}
		counts := map[string]int{}
		for _, o := range objs {
			counts[o.kind]++
		}
		var kinds []string
		for k, n := range counts {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Printf("manifests %s: %d objects decoded strictly (%s)\n", path, len(objs), strings.Join(kinds, ", "))
		if len(objs) == 0 && err == nil {
			r.fail("%s: no objects at all (did the rendering fail?)", path)
		}
		crossCheck(objs, r)
		if *nativeProm != "" {
			checkRenderedPrometheus(objs, *nativeProm, r)
		}
		if *extract != "" {
			if err := extractConfigMaps(objs, filepath.Join(*extract, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))); err != nil {
				r.fail("extracting ConfigMaps: %v", err)
			}
		}
		if r.finish("manifests "+path) != 0 {
			code = 1
		}
	}
	return code
}

func index(objs []decoded) *rendering {
	x := &rendering{
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		services: map[string]*corev1.Service{}, claims: map[string]bool{}, accounts: map[string]bool{},
		roles: map[string]bool{}, deployments: map[string]*appsv1.Deployment{}, external: map[string]bool{},
	}
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			x.configMaps[v.Name] = v
		case *corev1.Secret:
			x.secrets[v.Name] = v
		case *corev1.Service:
			x.services[v.Name] = v
		case *corev1.PersistentVolumeClaim:
			x.claims[v.Name] = true
		case *corev1.ServiceAccount:
			x.accounts[v.Name] = true
		case *rbacv1.Role:
			x.roles[v.Name] = true
		case *appsv1.Deployment:
			x.deployments[v.Name] = v
			x.pods = append(x.pods, podRef{owner: o.String(), labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec})
		case *batchv1.Job:
			x.pods = append(x.pods, podRef{owner: o.String(), labels: v.Spec.Template.Labels, spec: &v.Spec.Template.Spec})
		}
	}
	return x
}

func crossCheck(objs []decoded, r *report) {
	x := index(objs)
	for _, o := range objs {
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			for k, text := range v.Data {
				if strings.TrimSpace(text) == "" {
					r.fail("%s: key %s is empty (a .Files.Get of a missing or .helmignore'd file?)", o, k)
				}
			}
		case *appsv1.Deployment:
			sel := labels.SelectorFromSet(v.Spec.Selector.MatchLabels)
			if len(v.Spec.Selector.MatchExpressions) > 0 || !sel.Matches(labels.Set(v.Spec.Template.Labels)) {
				r.fail("%s: selector does not match its pod template's labels", o)
			}
		case *corev1.Service:
			checkService(o, v, x, r)
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := v.Spec.ScaleTargetRef
			d, ok := x.deployments[ref.Name]
			if ref.Kind != "Deployment" || !ok {
				r.fail("%s: scales %s %s, which is not rendered", o, ref.Kind, ref.Name)
			} else if d.Spec.Replicas != nil {
				r.fail("%s: Deployment %s also sets replicas (every upgrade would reset the autoscaler's count)", o, ref.Name)
			}
			if v.Spec.MinReplicas == nil || *v.Spec.MinReplicas < 1 || v.Spec.MaxReplicas < *v.Spec.MinReplicas {
				r.fail("%s: minReplicas/maxReplicas do not make sense", o)
			}
		case *policyv1.PodDisruptionBudget:
			if !selectsPod(v.Spec.Selector.MatchLabels, x) {
				r.fail("%s: selects no rendered pod", o)
			}
		case *rbacv1.RoleBinding:
			if v.RoleRef.Kind == "Role" && !x.roles[v.RoleRef.Name] {
				r.fail("%s: binds Role %s, which is not rendered", o, v.RoleRef.Name)
			}
			for _, s := range v.Subjects {
				if s.Kind == "ServiceAccount" && !x.accounts[s.Name] {
					r.fail("%s: binds ServiceAccount %s, which is not rendered", o, s.Name)
				}
			}
		case *monitoringv1.ServiceMonitor:
			checkServiceMonitor(o, v, x, r)
		case *monitoringv1.PrometheusRule:
			if len(v.Spec.Groups) == 0 {
				r.fail("%s: no rule groups", o)
			}
		}
	}
	for _, p := range x.pods {
		checkPod(p, x, r)
	}
	var ext []string
	for name := range x.external {
		ext = append(ext, name)
	}
	sort.Strings(ext)
	for _, name := range ext {
		r.note("%s is referenced but not rendered: it must exist in the cluster", name)
	}
}

func selectsPod(match map[string]string, x *rendering) bool {
	if len(match) == 0 {
		return false
	}
	sel := labels.SelectorFromSet(match)
	for _, p := range x.pods {
		if sel.Matches(labels.Set(p.labels)) {
			return true
		}
	}
	return false
}

func checkService(o decoded, v *corev1.Service, x *rendering, r *report) {
	if len(v.Spec.Selector) == 0 {
		r.fail("%s: no selector", o)
		return
	}
	sel := labels.SelectorFromSet(v.Spec.Selector)
	var matched []podRef
	for _, p := range x.pods {
		if sel.Matches(labels.Set(p.labels)) {
			matched = append(matched, p)
		}
	}
	if len(matched) == 0 {
		r.fail("%s: selects no rendered pod", o)
		return
	}
	for _, port := range v.Spec.Ports {
		if port.TargetPort.StrVal == "" {
			continue
		}
		for _, p := range matched {
			if !hasContainerPort(p.spec, port.TargetPort.StrVal) {
				r.fail("%s: port %s targets %q, which %s does not declare", o, port.Name, port.TargetPort.StrVal, p.owner)
			}
		}
	}
}

func checkServiceMonitor(o decoded, v *monitoringv1.ServiceMonitor, x *rendering, r *report) {
	sel := labels.SelectorFromSet(v.Spec.Selector.MatchLabels)
	var svc *corev1.Service
	for _, s := range x.services {
		if sel.Matches(labels.Set(s.Labels)) {
			svc = s
		}
	}
	if svc == nil {
		r.fail("%s: selects no rendered Service", o)
		return
	}
	if v.Spec.JobLabel != "" && svc.Labels[v.Spec.JobLabel] == "" {
		r.fail("%s: jobLabel %s is not a label of Service %s", o, v.Spec.JobLabel, svc.Name)
	}
	for _, ep := range v.Spec.Endpoints {
		found := false
		for _, p := range svc.Spec.Ports {
			found = found || p.Name == ep.Port
		}
		if !found {
			r.fail("%s: endpoint port %q is not a port of Service %s", o, ep.Port, svc.Name)
		}
		if ep.OAuth2 != nil {
			if cm := ep.OAuth2.ClientID.ConfigMap; cm != nil {
				checkConfigMapKey(o.String(), cm.Name, cm.Key, x, r)
			}
			checkSecretKey(o.String(), ep.OAuth2.ClientSecret.Name, ep.OAuth2.ClientSecret.Key, x, r)
		}
	}
}

func hasContainerPort(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func checkConfigMapKey(owner, name, key string, x *rendering, r *report) {
	cm, ok := x.configMaps[name]
	if !ok {
		r.fail("%s: ConfigMap %s is not rendered", owner, name)
		return
	}
	if _, ok := cm.Data[key]; key != "" && !ok {
		r.fail("%s: ConfigMap %s has no key %q", owner, name, key)
	}
}

// A Secret that is not rendered is an existing one (credentials.existingSecret): noted.
func checkSecretKey(owner, name, key string, x *rendering, r *report) {
	s, ok := x.secrets[name]
	if !ok {
		x.external["Secret "+name] = true
		return
	}
	_, inData := s.Data[key]
	_, inString := s.StringData[key]
	if key != "" && !inData && !inString {
		r.fail("%s: Secret %s has no key %q", owner, name, key)
	}
}

var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func checkPod(p podRef, x *rendering, r *report) {
	spec := p.spec
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			checkConfigMapKey(p.owner, v.ConfigMap.Name, "", x, r)
			for _, it := range v.ConfigMap.Items {
				checkConfigMapKey(p.owner, v.ConfigMap.Name, it.Key, x, r)
			}
		case v.Secret != nil:
			checkSecretKey(p.owner, v.Secret.SecretName, "", x, r)
			for _, it := range v.Secret.Items {
				checkSecretKey(p.owner, v.Secret.SecretName, it.Key, x, r)
			}
		case v.PersistentVolumeClaim != nil:
			if !x.claims[v.PersistentVolumeClaim.ClaimName] {
				x.external["PersistentVolumeClaim "+v.PersistentVolumeClaim.ClaimName] = true
			}
		}
	}
	if sa := spec.ServiceAccountName; sa != "" && !x.accounts[sa] {
		r.fail("%s: ServiceAccount %s is not rendered", p.owner, sa)
	}
	nonRoot := spec.SecurityContext != nil && spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot
	component := p.labels["app.kubernetes.io/component"]
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		where := fmt.Sprintf("%s container %s", p.owner, c.Name)
		defined := map[string]bool{}
		for _, e := range c.Env {
			for _, m := range envRef.FindAllStringSubmatch(e.Value, -1) {
				if !defined[m[1]] {
					r.fail("%s: env %s uses $(%s) before it is defined", where, e.Name, m[1])
				}
			}
			defined[e.Name] = true
			if e.ValueFrom != nil {
				if ref := e.ValueFrom.SecretKeyRef; ref != nil {
					checkSecretKey(where, ref.Name, ref.Key, x, r)
				}
				if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
					checkConfigMapKey(where, ref.Name, ref.Key, x, r)
				}
			}
		}
		for _, m := range c.VolumeMounts {
			v, ok := volumes[m.Name]
			if !ok {
				r.fail("%s: mounts volume %s, which the pod does not declare", where, m.Name)
				continue
			}
			if m.SubPath != "" && v.ConfigMap != nil && len(v.ConfigMap.Items) == 0 {
				checkConfigMapKey(where, v.ConfigMap.Name, m.SubPath, x, r)
			}
		}
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if probe == nil {
				continue
			}
			if g := probe.HTTPGet; g != nil && g.Port.StrVal != "" && !hasContainerPort(&corev1.PodSpec{Containers: []corev1.Container{c}}, g.Port.StrVal) {
				r.fail("%s: a probe uses port %q, which the container does not declare", where, g.Port.StrVal)
			}
		}
		if probedServices[component] {
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				r.fail("%s: readiness probe must be GET /readyz", where)
			}
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				r.fail("%s: liveness probe must be GET /healthz", where)
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() ||
			c.Resources.Limits.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			r.fail("%s: needs CPU and memory requests and limits", where)
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			r.fail("%s: must set allowPrivilegeEscalation: false", where)
		}
		if sc == nil || sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
			r.fail("%s: must drop ALL capabilities", where)
		}
		if !nonRoot && (sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			r.fail("%s: must run as non-root (runAsNonRoot)", where)
		}
		if probedServices[component] && (sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem) {
			r.fail("%s: printflow's services run with a read-only root filesystem", where)
		}
	}
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

// checkRenderedPrometheus: every ConfigMap key prometheus.yml scrapes the native jobs.
func checkRenderedPrometheus(objs []decoded, native string, r *report) {
	for _, o := range objs {
		cm, ok := o.obj.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		if text, ok := cm.Data["prometheus.yml"]; ok {
			compareJobs(native, fmt.Sprintf("ConfigMap %s", cm.Name), []byte(text), r)
		}
	}
}

// extractConfigMaps writes each ConfigMap key to dir/<ConfigMap>/<key> (dir emptied first).
func extractConfigMaps(objs []decoded, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for _, o := range objs {
		cm, ok := o.obj.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, cm.Name), 0o755); err != nil {
			return err
		}
		for k, v := range cm.Data {
			if err := os.WriteFile(filepath.Join(dir, cm.Name, k), []byte(v), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
