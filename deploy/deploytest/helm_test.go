package deploytest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/unhidra/unhidra/auth/token"
)

const chartDir = "deploy/helm/unhidra"

// helm returns the path of the helm binary scripts/tools.sh installs (once
// per machine and version; later runs find it in the cache).
var helm = sync.OnceValues(func() (string, error) {
	root, err := findRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "tools.sh"), "helm")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("helm could not be installed by scripts/tools.sh helm (%v); its first run builds helm with "+
			"`go install helm.sh/helm/v3/cmd/helm@…` and needs the Go module proxy. Its output:\n%s", err, stderr.String())
	}
	path := strings.TrimSpace(stdout.String())
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("scripts/tools.sh helm printed %q, which is not a file: %v", path, err)
	}
	return path, nil
})

func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root := filepath.Clean(filepath.Join(dir, "..", ".."))
	if _, err := os.Stat(filepath.Join(root, "scripts", "tools.sh")); err != nil {
		return "", fmt.Errorf("repository root not found from %s: %w", dir, err)
	}
	return root, nil
}

// runHelm runs helm with args in the repository root and returns its
// standard output, or its standard error as the error.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := helm()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = repoRoot(t)
	// Keep helm's own configuration and caches out of the user's home.
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+tmp, "HELM_CACHE_HOME="+tmp, "HELM_DATA_HOME="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// scenario is one set of values the chart must lint and render with.
type scenario struct {
	name string
	set  []string // helm --set arguments

	multiNode       bool
	keysSecret      string   // an existing signing-key Secret ("" for the generated one)
	keyFiles        []string // signingKeys.files
	dbSecret        string   // an existing database Secret
	wantStatefulSet []string // component labels of the in-chart StatefulSets
	ingress         bool
	metricsPort     int32
}

var scenarios = []scenario{
	{name: "defaults", keyFiles: []string{"signing.pem"}},
	{
		name:      "single node with persistence",
		set:       []string{"persistence.enabled=true"},
		keyFiles:  []string{"signing.pem"},
		ingress:   false,
		multiNode: false,
	},
	{
		name: "in-cluster postgresql and nats, autoscaling, ingress",
		set: []string{
			"postgresql.enabled=true", "nats.enabled=true", "autoscaling.enabled=true",
			"ingress.enabled=true", "ingress.tls[0].secretName=chat-tls", "ingress.tls[0].hosts[0]=chat.example.com",
			"config.public-url=https://chat.example.com", "config.metrics-addr=:9100", "config.registration=invite",
		},
		multiNode:       true,
		keyFiles:        []string{"signing.pem"},
		wantStatefulSet: []string{"nats", "postgresql"},
		ingress:         true,
		metricsPort:     9100,
	},
	{
		name: "external database, bus and keys",
		set: []string{
			"replicaCount=3", "database.existingSecret=chat-db", "bus.url=nats://nats.example:4222",
			"signingKeys.existingSecret=chat-keys", "signingKeys.files={new.pem,old.pem}",
		},
		multiNode:  true,
		keysSecret: "chat-keys",
		keyFiles:   []string{"new.pem", "old.pem"},
		dbSecret:   "chat-db",
	},
}

func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

func TestHelmLint(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir}, setArgs(sc.set)...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

// TestHelmRefuses: settings that cannot work fail to render, saying why.
func TestHelmRefuses(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
	}{
		{[]string{"replicaCount=2"}, "share PostgreSQL"},
		{[]string{"autoscaling.enabled=true", "postgresql.enabled=true"}, "need a bus"},
		{[]string{"replicaCount=2", "database.url=postgres://u:p@db/x", "bus.url=nats://n:4222", "persistence.enabled=true"}, "persistence is for a single node"},
		{[]string{"signingKeys.files=null"}, "lists no key file"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			_, err := runHelm(t, append([]string{"template", "t", chartDir}, setArgs(tc.set)...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template --set %v: got %v, want an error with %q", tc.set, err, tc.want)
			}
		})
	}
}

// manifests holds the decoded objects of one rendering.
type manifests struct {
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	secrets      map[string]*corev1.Secret
	ingresses    []*networkingv1.Ingress
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
	pvcs         []*corev1.PersistentVolumeClaim
	accounts     []*corev1.ServiceAccount
}

// decode splits helm's output into documents and decodes each strictly into
// its API type: an unknown or misspelt field, a wrong type or an unexpected
// kind or apiVersion fails.
func decode(t *testing.T, rendered string) *manifests {
	t.Helper()
	m := &manifests{secrets: map[string]*corev1.Secret{}}
	r := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(rendered)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		if tm.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		strict := func(apiVersion string, obj any) {
			t.Helper()
			if tm.APIVersion != apiVersion {
				t.Errorf("%s: apiVersion %q, want %q", tm.Kind, tm.APIVersion, apiVersion)
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Fatalf("%s does not decode strictly: %v\n%s", tm.Kind, err, doc)
			}
		}
		switch tm.Kind {
		case "Deployment":
			o := &appsv1.Deployment{}
			strict("apps/v1", o)
			m.deployments = append(m.deployments, o)
		case "StatefulSet":
			o := &appsv1.StatefulSet{}
			strict("apps/v1", o)
			m.statefulSets = append(m.statefulSets, o)
		case "Service":
			o := &corev1.Service{}
			strict("v1", o)
			m.services = append(m.services, o)
		case "Secret":
			o := &corev1.Secret{}
			strict("v1", o)
			m.secrets[o.Name] = o
		case "Ingress":
			o := &networkingv1.Ingress{}
			strict("networking.k8s.io/v1", o)
			m.ingresses = append(m.ingresses, o)
		case "HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			strict("autoscaling/v2", o)
			m.hpas = append(m.hpas, o)
		case "PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			strict("policy/v1", o)
			m.pdbs = append(m.pdbs, o)
		case "PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			strict("v1", o)
			m.pvcs = append(m.pvcs, o)
		case "ServiceAccount":
			o := &corev1.ServiceAccount{}
			strict("v1", o)
			m.accounts = append(m.accounts, o)
		default:
			t.Fatalf("unexpected kind %q (apiVersion %q) in\n%s", tm.Kind, tm.APIVersion, doc)
		}
	}
	return m
}

func stripComments(doc []byte) []byte {
	var out []byte
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out = append(out, line...)
		}
	}
	return out
}

func TestHelmTemplate(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runHelm(t, append([]string{"template", "rel", chartDir, "--namespace", "chat"}, setArgs(sc.set)...)...)
			if err != nil {
				t.Fatal(err)
			}
			m := decode(t, out)
			checkChart(t, sc, m)
		})
	}
}

func checkChart(t *testing.T, sc scenario, m *manifests) {
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(m.deployments))
	}
	d := m.deployments[0]
	pod := d.Spec.Template
	if !matches(d.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its pods %v", d.Spec.Selector.MatchLabels, pod.Labels)
	}

	// The server container: port, probes, locked down.
	c := container(t, pod.Spec.Containers, "unhidra")
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" && p.ContainerPort == 8080 }) {
		t.Errorf("no container port http 8080: %+v", c.Ports)
	}
	checkProbe(t, "readiness", c.ReadinessProbe, "/readyz")
	checkProbe(t, "liveness", c.LivenessProbe, "/healthz")
	checkProbe(t, "startup", c.StartupProbe, "/healthz")
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("server resources lack requests or a memory limit: %+v", c.Resources)
	}
	if sc.metricsPort != 0 && !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" && p.ContainerPort == sc.metricsPort }) {
		t.Errorf("no container port metrics %d: %+v", sc.metricsPort, c.Ports)
	}
	if got := pod.Annotations["prometheus.io/port"]; got != strconv.Itoa(int(orDefault(sc.metricsPort, 8080))) {
		t.Errorf("prometheus.io/port annotation %q", got)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the server pod mounts a service account token it does not need")
	}
	checkLockedDown(t, "Deployment "+d.Name, pod.Spec)
	for _, s := range m.statefulSets {
		checkLockedDown(t, "StatefulSet "+s.Name, s.Spec.Template.Spec)
		if !matches(s.Spec.Selector.MatchLabels, s.Spec.Template.Labels) {
			t.Errorf("StatefulSet %s selector does not select its pods", s.Name)
		}
		for _, c := range s.Spec.Template.Spec.Containers {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("StatefulSet %s container %s lacks a readiness or liveness probe", s.Name, c.Name)
			}
		}
	}
	var components []string
	for _, s := range m.statefulSets {
		components = append(components, s.Spec.Template.Labels["app.kubernetes.io/component"])
	}
	slices.Sort(components)
	wantComponents := slices.Sorted(slices.Values(sc.wantStatefulSet))
	if !slices.Equal(components, wantComponents) {
		t.Errorf("StatefulSets for %v, want %v", components, sc.wantStatefulSet)
	}

	// Every Service selects pods of this release; the server's has the http port.
	var serverService *corev1.Service
	for _, s := range m.services {
		if matches(s.Spec.Selector, pod.Labels) {
			serverService = s
		}
		selected := matches(s.Spec.Selector, pod.Labels)
		for _, st := range m.statefulSets {
			selected = selected || matches(s.Spec.Selector, st.Spec.Template.Labels)
		}
		if !selected {
			t.Errorf("Service %s selects no pod of the release: %v", s.Name, s.Spec.Selector)
		}
	}
	if serverService == nil {
		t.Fatal("no Service selects the server pods")
	}

	// Signing keys: copied by the init container into the keys volume, listed
	// in --jwt-key-files, from the generated Secret or the existing one.
	env := resolveEnv(t, c.Env, m, sc)
	var want []string
	for _, f := range sc.keyFiles {
		want = append(want, "/keys/"+f)
	}
	if got := env["UNHIDRA_JWT_KEY_FILES"]; got != strings.Join(want, ",") {
		t.Errorf("UNHIDRA_JWT_KEY_FILES=%q, want %q", got, strings.Join(want, ","))
	}
	if got := env["UNHIDRA_KEY_ENCRYPTION_KEY_FILE"]; got != "/keys/kek" {
		t.Errorf("UNHIDRA_KEY_ENCRYPTION_KEY_FILE=%q, want /keys/kek", got)
	}
	init := container(t, pod.Spec.InitContainers, "signing-keys")
	for _, f := range append(slices.Clone(sc.keyFiles), "kek", "audit-signing-key") {
		if !strings.Contains(strings.Join(init.Command, " "), f) {
			t.Errorf("the signing-keys init container does not copy %s: %q", f, init.Command)
		}
	}
	keysSecret := volumeSecret(t, pod.Spec, "keys-secret")
	if sc.keysSecret != "" {
		if keysSecret != sc.keysSecret {
			t.Errorf("keys volume from Secret %q, want %q", keysSecret, sc.keysSecret)
		}
		if _, ok := m.secrets[sc.keysSecret]; ok {
			t.Errorf("the chart renders the existing Secret %s", sc.keysSecret)
		}
	} else {
		s, ok := m.secrets[keysSecret]
		if !ok {
			t.Fatalf("keys volume from Secret %q, which the chart does not render", keysSecret)
		}
		checkGeneratedKey(t, s.Data[sc.keyFiles[0]])
		for _, k := range []string{"kek", "audit-signing-key"} {
			if b, err := base64.StdEncoding.DecodeString(string(s.Data[k])); err != nil || len(b) != 32 {
				t.Errorf("the generated %s is not 32 bytes in base64: %q", k, s.Data[k])
			}
		}
		if env["UNHIDRA_AUDIT_SIGNING_KEY_FILE"] != "/keys/audit-signing-key" {
			t.Errorf("UNHIDRA_AUDIT_SIGNING_KEY_FILE=%q", env["UNHIDRA_AUDIT_SIGNING_KEY_FILE"])
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == "keys" && (v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory) {
			t.Errorf("the keys volume is not a memory-backed emptyDir: %+v", v.VolumeSource)
		}
	}

	// Configuration: every variable is a flag of unhidra serve and parses.
	checkServerEnv(t, "Deployment "+d.Name, env)
	if env["UNHIDRA_ADDR"] != ":8080" {
		t.Errorf("UNHIDRA_ADDR=%q", env["UNHIDRA_ADDR"])
	}
	if sc.multiNode {
		if !strings.HasPrefix(env["UNHIDRA_DB"], "postgres://") {
			t.Errorf("several nodes without PostgreSQL: UNHIDRA_DB=%q", env["UNHIDRA_DB"])
		}
		if env["UNHIDRA_BUS"] == "" {
			t.Error("several nodes without UNHIDRA_BUS")
		}
		if len(m.pdbs) != 1 {
			t.Fatalf("%d PodDisruptionBudgets, want 1", len(m.pdbs))
		}
		if !matches(m.pdbs[0].Spec.Selector.MatchLabels, pod.Labels) {
			t.Errorf("the PodDisruptionBudget does not select the server pods")
		}
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("strategy %q", d.Spec.Strategy.Type)
		}
	} else {
		if _, ok := env["UNHIDRA_BUS"]; ok {
			t.Error("a single node with a bus")
		}
		if len(m.pdbs) != 0 || len(m.hpas) != 0 {
			t.Error("a single node with a PodDisruptionBudget or an autoscaler")
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			t.Errorf("replicas %v, want 1", d.Spec.Replicas)
		}
	}
	for _, h := range m.hpas {
		if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
			t.Errorf("the autoscaler scales %+v, not Deployment %s", h.Spec.ScaleTargetRef, d.Name)
		}
		if d.Spec.Replicas != nil {
			t.Error("an autoscaled Deployment sets replicas (each upgrade would reset the scale)")
		}
	}
	if len(m.pvcs) > 0 && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Error("a Deployment on one ReadWriteOnce volume must use the Recreate strategy")
	}

	// Ingress: routes to the server Service and keeps WebSockets open.
	if sc.ingress != (len(m.ingresses) == 1) {
		t.Fatalf("%d Ingresses, want ingress=%v", len(m.ingresses), sc.ingress)
	}
	for _, ing := range m.ingresses {
		for _, a := range []string{"nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.ingress.kubernetes.io/proxy-send-timeout"} {
			n, err := strconv.Atoi(ing.Annotations[a])
			if err != nil || n < 3600 {
				t.Errorf("Ingress annotation %s=%q: WebSockets need an hour or more", a, ing.Annotations[a])
			}
		}
		for _, rule := range ing.Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				if p.Backend.Service == nil || p.Backend.Service.Name != serverService.Name || p.Backend.Service.Port.Name != "http" {
					t.Errorf("Ingress path %s goes to %+v, not %s:http", p.Path, p.Backend, serverService.Name)
				}
			}
		}
		if len(ing.Spec.TLS) == 0 {
			t.Error("the Ingress lost its TLS section")
		}
	}
}

func orDefault(v, d int32) int32 {
	if v == 0 {
		return d
	}
	return v
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func container(t *testing.T, cs []corev1.Container, name string) *corev1.Container {
	t.Helper()
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func checkProbe(t *testing.T, kind string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe: %+v, want GET %s", kind, p, path)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
		t.Errorf("%s probe GET %s on %s, want %s on http", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
	}
}

// checkLockedDown: the pod runs as a non-root user and every container
// (init containers too) without privilege escalation, capabilities or a
// writable root file system.
func checkLockedDown(t *testing.T, what string, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: the pod may run as root: %+v", what, psc)
	}
	if psc != nil && (psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Errorf("%s: no RuntimeDefault seccomp profile", what)
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s container %s: no securityContext", what, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s container %s: privilege escalation allowed", what, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s container %s: writable root file system", what, c.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s container %s: capabilities not all dropped: %+v", what, c.Name, sc.Capabilities)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s container %s: privileged", what, c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s container %s: no memory limit", what, c.Name)
		}
	}
}

func volumeSecret(t *testing.T, spec corev1.PodSpec, volume string) string {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == volume {
			if v.Secret == nil {
				t.Fatalf("volume %s is not a Secret", volume)
			}
			return v.Secret.SecretName
		}
	}
	t.Fatalf("no volume %s", volume)
	return ""
}

var kubeVarRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// resolveEnv returns the container's environment as the server would see
// it: values from Secrets the chart renders are read from them, values from
// existing Secrets are stood in for, and $(VAR) references are expanded the
// way the kubelet does.
func resolveEnv(t *testing.T, vars []corev1.EnvVar, m *manifests, sc scenario) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, v := range vars {
		if _, dup := env[v.Name]; dup {
			t.Errorf("environment variable %s set twice", v.Name)
		}
		switch {
		case v.ValueFrom == nil:
			env[v.Name] = kubeVarRef.ReplaceAllStringFunc(v.Value, func(ref string) string {
				name := kubeVarRef.FindStringSubmatch(ref)[1]
				val, ok := env[name]
				if !ok {
					t.Errorf("%s refers to $(%s), which is not set before it", v.Name, name)
				}
				return val
			})
		case v.ValueFrom.SecretKeyRef != nil:
			ref := v.ValueFrom.SecretKeyRef
			if ref.Name == sc.dbSecret {
				env[v.Name] = "postgres://unhidra:secret@db.example:5432/unhidra"
				continue
			}
			s, ok := m.secrets[ref.Name]
			if !ok {
				t.Errorf("%s comes from Secret %s, which the chart does not render", v.Name, ref.Name)
				continue
			}
			val, ok := s.StringData[ref.Key]
			if !ok {
				b, ok2 := s.Data[ref.Key]
				if !ok2 {
					t.Errorf("%s comes from key %s of Secret %s, which has no such key", v.Name, ref.Key, ref.Name)
				}
				val = string(b)
			}
			env[v.Name] = val
		default:
			t.Errorf("%s: unexpected valueFrom %+v", v.Name, v.ValueFrom)
		}
	}
	return env
}

// checkGeneratedKey loads the chart's generated key the way the server does
// (a 0600 file given to --jwt-key-files).
func checkGeneratedKey(t *testing.T, pem []byte) {
	t.Helper()
	if len(pem) == 0 {
		t.Fatal("the generated signing-key Secret holds no key")
	}
	path := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := token.LoadFiles([]string{path}); err != nil {
		t.Errorf("the server refuses the generated signing key: %v", err)
	}
}
