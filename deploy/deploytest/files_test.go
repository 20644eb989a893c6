package deploytest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestStrictDecoding: the decoding TestHelmTemplate relies on refuses a
// field the API type does not have.
func TestStrictDecoding(t *testing.T) {
	doc := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	if err := yaml.UnmarshalStrict(doc, &appsv1.Deployment{}); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("a misspelt field decoded: %v", err)
	}
}

// dockerfile is deploy/Dockerfile as instructions (continuation lines
// joined), split into its stages.
type stage struct {
	from   string
	name   string
	instrs []string // "RUN …", "COPY …", each whole
}

func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		word, rest, _ := strings.Cut(line, " ")
		if strings.EqualFold(word, "FROM") {
			f := strings.Fields(rest)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			if !strings.EqualFold(word, "ARG") {
				t.Fatalf("Dockerfile: %q before the first FROM", line)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, strings.ToUpper(word)+" "+rest)
	}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, "deploy/Dockerfile")))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	return stages
}

func (s stage) find(prefix string) []string {
	var out []string
	for _, in := range s.instrs {
		if strings.HasPrefix(in, prefix) {
			out = append(out, in)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) != 3 {
		t.Fatalf("%d stages, want 3 (web client, binary, runtime)", len(stages))
	}
	web, build, run := stages[0], stages[1], stages[2]

	if !strings.HasPrefix(web.from, "node:20") {
		t.Errorf("the web client builds on %s, want Node.js 20", web.from)
	}
	webRuns := strings.Join(web.find("RUN "), "\n")
	for _, want := range []string{"npm ci", "npm run build"} {
		if !strings.Contains(webRuns, want) {
			t.Errorf("the web stage does not run %q", want)
		}
	}

	// The Go image matches the go directive of go.mod (major.minor).
	goMod := readFile(t, "go.mod")
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	if !strings.HasPrefix(build.from, "golang:"+m[1]) {
		t.Errorf("the binary builds on %s, want golang:%s like go.mod", build.from, m[1])
	}
	buildRuns := strings.Join(build.find("RUN "), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-tags webui", "-trimpath", "./cmd/unhidra"} {
		if !strings.Contains(buildRuns, want) {
			t.Errorf("the build stage's go build lacks %q", want)
		}
	}
	if !slices.ContainsFunc(build.find("COPY "), func(s string) bool {
		return strings.Contains(s, "--from="+web.name) && strings.Contains(s, "web/dist")
	}) {
		t.Error("the build stage does not take web/dist from the web stage")
	}

	if run.from != "gcr.io/distroless/static-debian12:nonroot" && run.from != "scratch" {
		t.Errorf("the runtime image is %s", run.from)
	}
	users := run.find("USER ")
	if len(users) == 0 {
		t.Fatal("the runtime stage sets no USER")
	}
	user, _, _ := strings.Cut(strings.TrimPrefix(users[len(users)-1], "USER "), ":")
	if user == "0" || user == "root" || user == "" {
		t.Errorf("the runtime stage runs as %q", user)
	}
	if !slices.Contains(run.find("EXPOSE "), "EXPOSE 8080") {
		t.Error("the runtime stage does not EXPOSE 8080")
	}
	if !slices.ContainsFunc(run.find("ENTRYPOINT "), func(s string) bool { return strings.Contains(s, "unhidra") }) {
		t.Error("no ENTRYPOINT runs unhidra")
	}
	env := map[string]string{}
	for _, e := range run.find("ENV ") {
		for _, kv := range strings.Fields(strings.TrimPrefix(e, "ENV ")) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %q: use KEY=value", e)
			}
			env[k] = v
		}
	}
	checkServerEnv(t, "Dockerfile", env)
	if env["UNHIDRA_ADDR"] != ":8080" {
		t.Errorf("UNHIDRA_ADDR=%q, want :8080 as exposed", env["UNHIDRA_ADDR"])
	}
}

// TestDockerignore: the build context leaves out local state and what the
// image builds itself, and keeps everything the build needs.
func TestDockerignore(t *testing.T) {
	var patterns []string
	for _, line := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/"))
		}
	}
	ignored := func(path string) bool {
		out := false
		for _, p := range patterns {
			neg := strings.HasPrefix(p, "!")
			p = strings.TrimPrefix(p, "!")
			for dir := path; dir != "."; dir = filepath.Dir(dir) {
				if ok, _ := filepath.Match(p, dir); ok {
					out = !neg
					break
				}
			}
		}
		return out
	}
	for _, p := range []string{".git/HEAD", "web/node_modules/x", "data/unhidra.db", "bin/unhidra", "web/dist/index.html"} {
		if !ignored(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.mod", "go.sum", "cmd/unhidra/main.go", "web/package.json", "web/package-lock.json",
		"web/src/main.ts", "web/index.html", "store/migrations/postgres/1.sql", "auth/password/common.txt", "deploy/Dockerfile"} {
		if ignored(p) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", p)
		}
	}
}

// unitFile parses a systemd unit into section -> key -> values.
func unitFile(t *testing.T, text string) map[string]map[string][]string {
	t.Helper()
	units := map[string]map[string][]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			units[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("unit line %q", line)
		}
		units[section][k] = append(units[section][k], v)
	}
	return units
}

func TestSystemdUnit(t *testing.T) {
	unit := readFile(t, "deploy/systemd/unhidra.service")
	u := unitFile(t, unit)
	svc := u["Service"]
	last := func(k string) string {
		if v := svc[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	if !strings.HasSuffix(last("ExecStart"), "/unhidra serve") {
		t.Errorf("ExecStart=%q", last("ExecStart"))
	}
	if last("DynamicUser") != "yes" && (last("User") == "" || last("User") == "root") {
		t.Error("the service runs as root: set DynamicUser=yes or a dedicated User=")
	}
	for k, want := range map[string]string{
		"ProtectSystem": "strict", "NoNewPrivileges": "yes", "StateDirectory": "unhidra", "PrivateTmp": "yes",
		"ProtectHome": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes", "PrivateDevices": "yes",
	} {
		if _, ok := svc[k]; !ok || last(k) != want {
			t.Errorf("[Service] %s=%q, want %q", k, last(k), want)
		}
	}
	if len(svc["EnvironmentFile"]) == 0 {
		t.Error("no EnvironmentFile")
	}
	if u["Install"]["WantedBy"] == nil {
		t.Error("no [Install] WantedBy")
	}

	// The unit's own variables and the example environment file name real
	// flags with values they accept (%S is /var/lib for a system unit).
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = strings.ReplaceAll(v, "%S", "/var/lib")
	}
	checkServerEnv(t, "unhidra.service", env)
	if env["UNHIDRA_DATA"] != "/var/lib/"+last("StateDirectory") {
		t.Errorf("UNHIDRA_DATA=%q is not the StateDirectory", env["UNHIDRA_DATA"])
	}
	fileEnv := map[string]string{}
	for _, line := range strings.Split(readFile(t, "deploy/systemd/unhidra.env"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unhidra.env line %q", line)
		}
		fileEnv[k] = v
	}
	checkServerEnv(t, "unhidra.env", fileEnv)

	// systemd's own check, where systemd is installed (the binary path is
	// swapped for one that exists here).
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: skipping systemd's own check of the unit")
		return
	}
	path := filepath.Join(t.TempDir(), "unhidra.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/unhidra", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// serverMetrics is every metric name the server registers: the Name of each
// Prometheus collector in the packages that export them, the series of
// histograms, and the Go and process collectors' families.
func serverMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{"up": true}
	nameRe := regexp.MustCompile(`Name:\s*"([a-z_:][a-z0-9_:]*)"`)
	histRe := regexp.MustCompile(`(?s)New(Histogram|HistogramVec)\(prometheus\.HistogramOpts\{\s*Name:\s*"([a-z_:][a-z0-9_:]*)"`)
	for _, pkg := range []string{"httpapi", "gateway", "chat"} {
		files, err := filepath.Glob(filepath.Join(repoRoot(t), pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src := string(b)
			if !strings.Contains(src, "prometheus.") {
				continue
			}
			for _, m := range nameRe.FindAllStringSubmatch(src, -1) {
				names[m[1]] = true
			}
			for _, m := range histRe.FindAllStringSubmatch(src, -1) {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[m[2]+s] = true
				}
			}
		}
	}
	if !names["http_requests_total"] || !names["gateway_connections_active"] {
		t.Fatalf("the server's metric names were not found in its sources: %v", names)
	}
	return names
}

type grafanaPanel struct {
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Panels      []grafanaPanel `json:"panels"`
	Targets     []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboard(t *testing.T) {
	var dash struct {
		UID    string         `json:"uid"`
		Title  string         `json:"title"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal([]byte(readFile(t, "deploy/grafana/dashboards/unhidra.json")), &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	known := serverMetrics(t)
	metricRe := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	used := map[string]bool{}
	rows := map[string]bool{}
	row := ""
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				row = p.Title
				rows[row] = true
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				for _, m := range metricRe.FindAllStringSubmatch(tg.Expr, -1) {
					name := m[1]
					used[name] = true
					if known[name] || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
						continue
					}
					// The devices row shows metrics the server does not
					// export yet; its panels say so.
					if row == "Devices" && strings.Contains(p.Description, "once the server exports") {
						continue
					}
					t.Errorf("panel %q (row %q) queries %s, which the server does not export", p.Title, row, name)
				}
			}
		}
	}
	walk(dash.Panels)
	for _, r := range []string{"Connections", "Messages", "HTTP requests", "Rate limits", "Devices"} {
		if !rows[r] {
			t.Errorf("no %q row", r)
		}
	}
	for _, m := range []string{"gateway_connections_active", "gateway_messages_total", "http_request_duration_seconds_bucket",
		"gateway_message_latency_seconds_bucket", "rate_limit_hits_total", "gateway_rate_limit_hits_total"} {
		if !used[m] {
			t.Errorf("the dashboard does not show %s", m)
		}
	}

	// Provisioning: the data source the panels use and the dashboard folder.
	var ds struct {
		APIVersion  int `json:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault, Editable          bool
		} `json:"datasources"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, "deploy/grafana/provisioning/datasources/prometheus.yaml")), &ds); err != nil {
		t.Fatalf("datasource provisioning: %v", err)
	}
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || ds.Datasources[0].URL != "http://prometheus:9090" {
		t.Errorf("datasource provisioning: %+v", ds.Datasources)
	}
	var prov struct {
		APIVersion int `json:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			DisableDeletion    bool `json:"disableDeletion"`
			AllowUIUpdates     bool `json:"allowUiUpdates"`
			Options            struct {
				Path string `json:"path"`
			} `json:"options"`
		} `json:"providers"`
	}
	if err := yaml.UnmarshalStrict([]byte(readFile(t, "deploy/grafana/provisioning/dashboards/unhidra.yaml")), &prov); err != nil {
		t.Fatalf("dashboard provisioning: %v", err)
	}
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard provisioning: %+v", prov.Providers)
	}
}
