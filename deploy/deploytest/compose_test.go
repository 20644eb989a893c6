package deploytest

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// loadCompose loads deploy/compose.yaml the way `docker compose` does,
// validated against the Compose specification's schema (unknown keys fail)
// and checked for consistency (every dependency, volume and network exists).
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy")
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml")}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("unhidra", true)
	})
	if err != nil {
		t.Fatalf("deploy/compose.yaml does not load: %v", err)
	}
	return p
}

var unhidraNodes = []string{"unhidra-1", "unhidra-2"}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	for _, name := range append(slices.Clone(unhidraNodes), "keys", "postgres", "nats", "redis", "prometheus", "grafana") {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The databases and the bus report health, so the nodes can wait for it.
	for _, name := range []string{"postgres", "nats", "redis"} {
		hc := p.Services[name].HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
	}
	if !slices.Contains(p.Services["nats"].Command, "--jetstream") {
		t.Errorf("NATS runs without JetStream: %q", p.Services["nats"].Command)
	}

	ports := map[uint32]string{}
	for _, name := range unhidraNodes {
		s := p.Services[name]
		for dep, cond := range map[string]string{
			"postgres": types.ServiceConditionHealthy,
			"nats":     types.ServiceConditionHealthy,
			"redis":    types.ServiceConditionHealthy,
			"keys":     types.ServiceConditionCompletedSuccessfully,
		} {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, got, cond)
			}
		}
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || filepath.Clean(s.Build.Context) != repoRoot(t) {
			t.Errorf("%s is not built from deploy/Dockerfile in the repository root: %+v", name, s.Build)
		}
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s is not locked down (read_only, cap_drop ALL, no-new-privileges)", name)
		}
		if uid, _, _ := strings.Cut(s.User, ":"); uid == "" || uid == "0" || uid == "root" {
			t.Errorf("%s runs as user %q", name, s.User)
		}

		env := map[string]string{}
		for k, v := range s.Environment {
			if v == nil {
				t.Errorf("%s: %s has no value", name, k)
				continue
			}
			env[k] = *v
		}
		checkServerEnv(t, "compose "+name, env)
		if !strings.HasPrefix(env["UNHIDRA_DB"], "postgres://") || !strings.Contains(env["UNHIDRA_DB"], "@postgres:5432/") {
			t.Errorf("%s: UNHIDRA_DB=%q, want the postgres service", name, env["UNHIDRA_DB"])
		}
		if !strings.HasPrefix(env["UNHIDRA_BUS"], "nats://nats:") {
			t.Errorf("%s: UNHIDRA_BUS=%q, want the nats service", name, env["UNHIDRA_BUS"])
		}
		keyFile := env["UNHIDRA_KEY_ENCRYPTION_KEY_FILE"]
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Source == "keys" && v.ReadOnly && strings.HasPrefix(keyFile, v.Target+"/")
		}) {
			t.Errorf("%s: the shared key %q is not on the keys volume mounted read-only", name, keyFile)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == env["UNHIDRA_DATA"] }) {
			t.Errorf("%s: no volume on its data directory %q", name, env["UNHIDRA_DATA"])
		}
		for _, port := range s.Ports {
			if port.Target != 8080 {
				t.Errorf("%s publishes container port %d, the server listens on 8080", name, port.Target)
			}
			hostPort, _ := strconv.Atoi(port.Published)
			if other, dup := ports[uint32(hostPort)]; dup {
				t.Errorf("%s and %s both publish host port %d", name, other, hostPort)
			}
			ports[uint32(hostPort)] = name
		}
	}

	// Prometheus scrapes every node.
	prom := p.Services["prometheus"]
	var cfgSource string
	for _, v := range prom.Volumes {
		if v.Target == "/etc/prometheus/prometheus.yml" {
			cfgSource = v.Source
		}
	}
	if cfgSource != filepath.Join(repoRoot(t), "deploy", "prometheus", "prometheus.yml") {
		t.Errorf("prometheus does not mount deploy/prometheus/prometheus.yml: %q", cfgSource)
	}
	var promCfg struct {
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			MetricsPath   string `json:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `json:"targets"`
			} `json:"static_configs"`
		} `json:"scrape_configs"`
		Global map[string]string `json:"global"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, "deploy/prometheus/prometheus.yml")), &promCfg); err != nil {
		t.Fatalf("deploy/prometheus/prometheus.yml: %v", err)
	}
	var targets []string
	for _, sc := range promCfg.ScrapeConfigs {
		if sc.JobName != "unhidra" {
			continue
		}
		if sc.MetricsPath != "/metrics" {
			t.Errorf("job unhidra scrapes %q", sc.MetricsPath)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	for _, name := range unhidraNodes {
		if !slices.Contains(targets, name+":8080") {
			t.Errorf("Prometheus does not scrape %s:8080 (targets %v)", name, targets)
		}
	}

	// Grafana gets the provisioning and the dashboards that exist here.
	graf := p.Services["grafana"]
	for target, rel := range map[string]string{
		"/etc/grafana/provisioning":   "deploy/grafana/provisioning",
		"/var/lib/grafana/dashboards": "deploy/grafana/dashboards",
	} {
		if !slices.ContainsFunc(graf.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Target == target && v.Source == filepath.Join(repoRoot(t), rel)
		}) {
			t.Errorf("grafana does not mount %s on %s", rel, target)
		}
	}
	if got := graf.DependsOn["prometheus"].Condition; got != types.ServiceConditionHealthy {
		t.Errorf("grafana depends on prometheus with condition %q", got)
	}
}
