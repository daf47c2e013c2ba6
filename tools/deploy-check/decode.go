package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The API groups a printflow rendering may use. Anything else (a typo'd kind, an apiVersion
// the chart should not use, a CRD nobody registered here) fails to decode.
var schemeAdders = []func(*runtime.Scheme) error{
	corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
	batchv1.AddToScheme, rbacv1.AddToScheme, networkingv1.AddToScheme, monitoringv1.AddToScheme,
}

// decoded is one object of a rendering with where it came from.
type decoded struct {
	obj    runtime.Object
	kind   string
	name   string
	source string // helm's "# Source:" comment, or the document number
}

func (d decoded) String() string { return fmt.Sprintf("%s %s (%s)", d.kind, d.name, d.source) }

func newStrictSerializer() (*kjson.Serializer, error) {
	scheme := runtime.NewScheme()
	for _, add := range schemeAdders {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	// Strict: unknown fields and duplicate fields are errors, as `kubectl apply
	// --validate=strict` makes them on a server.
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true}), nil
}

// decodeFile splits a multi-document YAML file and decodes every non-empty document strictly.
func decodeFile(path string, r *report) ([]decoded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ser, err := newStrictSerializer()
	if err != nil {
		return nil, err
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []decoded
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		source := sourceOf(doc, n)
		if isEmptyDoc(doc) {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			r.fail("%s: not YAML: %v", source, err)
			continue
		}
		obj, _, err := ser.Decode(doc, nil, nil)
		if err != nil {
			r.fail("%s: %s %s/%s does not decode strictly: %v", source, meta.Kind, meta.APIVersion, meta.Metadata.Name, err)
			continue
		}
		if meta.Metadata.Name == "" {
			r.fail("%s: %s without metadata.name", source, meta.Kind)
			continue
		}
		out = append(out, decoded{obj: obj, kind: meta.Kind, name: meta.Metadata.Name, source: source})
	}
	return out, nil
}

func sourceOf(doc []byte, n int) string {
	for _, line := range strings.Split(string(doc), "\n") {
		if s, ok := strings.CutPrefix(line, "# Source: "); ok {
			return strings.TrimSpace(s)
		}
	}
	return fmt.Sprintf("document %d", n)
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}
