// Package deploytest checks the deployment artifacts in deploy/ without a
// container engine or a cluster: the Helm chart is linted and rendered with a
// real helm binary and every manifest is decoded strictly into the
// Kubernetes API types; deploy/compose.yaml goes through the Compose loader
// with validation; the Dockerfile, the systemd unit, the Prometheus
// configuration and the Grafana dashboard are read and checked against what
// the server provides (its flags, its probes, its metric names).
//
// The package holds no code of its own; everything is in its tests.
package deploytest
