{{/* The chart's name. */}}
{{- define "unhidra.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name, the prefix of every object. */}}
{{- define "unhidra.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "unhidra.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object but the component. */}}
{{- define "unhidra.commonLabels" -}}
helm.sh/chart: {{ include "unhidra.chart" . }}
app.kubernetes.io/name: {{ include "unhidra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the server's objects. */}}
{{- define "unhidra.labels" -}}
{{ include "unhidra.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* Labels selecting the server pods. */}}
{{- define "unhidra.selectorLabels" -}}
app.kubernetes.io/name: {{ include "unhidra.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "unhidra.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "unhidra.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* True when more than one node can run. */}}
{{- define "unhidra.multiNode" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* True when the server uses PostgreSQL. */}}
{{- define "unhidra.hasDatabase" -}}
{{- if or .Values.database.url .Values.database.existingSecret .Values.postgresql.enabled }}true{{ end }}
{{- end }}

{{/* The bus URL, empty for in-process. */}}
{{- define "unhidra.busURL" -}}
{{- if .Values.bus.url }}
{{- .Values.bus.url }}
{{- else if .Values.nats.enabled }}
{{- printf "nats://%s-nats:4222" (include "unhidra.fullname" .) }}
{{- end }}
{{- end }}

{{/* The Secret holding the signing keys. */}}
{{- define "unhidra.keysSecret" -}}
{{- default (printf "%s-keys" (include "unhidra.fullname" .)) .Values.signingKeys.existingSecret }}
{{- end }}

{{/* The Secret holding the database URL (the chart's own). */}}
{{- define "unhidra.databaseSecret" -}}
{{- printf "%s-database" (include "unhidra.fullname" .) }}
{{- end }}

{{/* The in-cluster PostgreSQL's password: the value, the existing Secret's, or a new one. */}}
{{- define "unhidra.postgresql.password" -}}
{{- if .Values.postgresql.password }}
{{- .Values.postgresql.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-postgresql" (include "unhidra.fullname" .)) }}
{{- if and $existing (index $existing.data "password") }}
{{- index $existing.data "password" | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Refuses settings that cannot work. */}}
{{- define "unhidra.validate" -}}
{{- if include "unhidra.multiNode" . }}
{{- if not (include "unhidra.hasDatabase" .) }}
{{- fail "several nodes (replicaCount > 1 or autoscaling.enabled) share PostgreSQL: set database.url, database.existingSecret or postgresql.enabled" }}
{{- end }}
{{- if not (include "unhidra.busURL" .) }}
{{- fail "several nodes (replicaCount > 1 or autoscaling.enabled) need a bus between them: set bus.url or nats.enabled" }}
{{- end }}
{{- if .Values.persistence.enabled }}
{{- fail "persistence is for a single node on SQLite; several nodes keep their state in PostgreSQL" }}
{{- end }}
{{- end }}
{{- if empty .Values.signingKeys.files }}
{{- fail "signingKeys.files lists no key file" }}
{{- end }}
{{- end }}
