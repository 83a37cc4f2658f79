{{/*
Helpers shared by every template. They take a context with `.Values`, `.Release` and `.Chart`:
the chart's own root context, or a subchart context (`$.Subcharts.portcullis`) when a workload
chart includes the sidecar helpers (templates/_sidecar.tpl).
*/}}

{{/* Chart name (nameOverride or "portcullis"). */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: <release>-portcullis unless the release name already contains it. */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the fullname: (dict "ctx" . "suffix" "config"). */}}
{{- define "portcullis.nameWith" -}}
{{- $full := include "portcullis.fullname" .ctx -}}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len .suffix)))) .suffix | trimSuffix "-" -}}
{{- end -}}

{{/* Chart label value. */}}
{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of the Portcullis pods; component is "authz" or "control-plane". */}}
{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Common labels of every object. */}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
app.kubernetes.io/part-of: portcullis
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of an object of a component: (dict "ctx" . "component" "authz"). */}}
{{- define "portcullis.componentLabels" -}}
{{ include "portcullis.labels" .ctx }}
{{ include "portcullis.selectorLabels" . }}
{{- end -}}

{{/* The service account name. */}}
{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The container image reference. */}}
{{- define "portcullis.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the chart mounts things in the container. */}}
{{- define "portcullis.paths" -}}
config: /etc/portcullis/config
configFile: /etc/portcullis/config/portcullis.yaml
policies: /etc/portcullis/policies
trust: /etc/portcullis/trust
bundleKeys: /etc/portcullis/bundle-keys
lkg: /var/lib/portcullis/bundles
signingKey: /etc/portcullis/signing
{{- end -}}

{{/* True ("true") when bundles are pulled: config.bundle.url is set or the in-chart control plane runs. */}}
{{- define "portcullis.pullsBundles" -}}
{{- $bundle := default (dict) .Values.config.bundle -}}
{{- if or $bundle.url .Values.controlPlane.enabled -}}true{{- end -}}
{{- end -}}

{{/* True when local policies are given (to the control plane when it runs, else to Portcullis). */}}
{{- define "portcullis.hasPolicies" -}}
{{- if or .Values.policies.files .Values.policies.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/*
True when Portcullis itself mounts a local policy directory: not when the in-chart control plane
serves the policies, nor when bundles are pulled and no local policies are given. Without any
policy source the directory is empty: every request is denied (default deny).
*/}}
{{- define "portcullis.mountsPolicies" -}}
{{- if and (not .Values.controlPlane.enabled) (or (include "portcullis.hasPolicies" .) (not (include "portcullis.pullsBundles" .))) -}}true{{- end -}}
{{- end -}}

{{/* Name of the ConfigMap holding the policy files. */}}
{{- define "portcullis.policiesConfigMap" -}}
{{- default (include "portcullis.nameWith" (dict "ctx" . "suffix" "policies")) .Values.policies.existingConfigMap -}}
{{- end -}}

{{/*
The effective Portcullis configuration as YAML: `.Values.config` plus what the chart manages and
the user did not set (a user value always wins; the chart's list entries come first).
*/}}
{{- define "portcullis.config" -}}
{{- $paths := include "portcullis.paths" . | fromYaml -}}
{{- $cfg := deepCopy (default (dict) .Values.config) -}}
{{- $derived := dict -}}
{{- if include "portcullis.mountsPolicies" . -}}
{{- $_ := set $derived "policy" (dict "dir" $paths.policies) -}}
{{- end -}}
{{- if include "portcullis.pullsBundles" . -}}
{{- $bundle := dict "lkgDir" $paths.lkg -}}
{{- if .Values.controlPlane.enabled -}}
{{- $url := printf "http://%s.%s.svc:%d/v1/bundles/{service}" (include "portcullis.nameWith" (dict "ctx" . "suffix" "control-plane")) .Release.Namespace (int .Values.controlPlane.port) -}}
{{- $_ := set $bundle "url" $url -}}
{{- /* The control plane's bundle for a policy directory without service folders. */ -}}
{{- $_ := set $bundle "service" "default" -}}
{{- end -}}
{{- $_ := set $derived "bundle" $bundle -}}
{{- end -}}
{{- $cfg = merge $cfg $derived -}}
{{- /* Lists: the chart's mounted files first, then the user's own entries. */ -}}
{{- $trust := list -}}
{{- range .Values.trustBundles -}}
{{- $trust = append $trust (dict "trustDomain" .trustDomain "file" (printf "%s/%s/%s" $paths.trust .trustDomain (include "portcullis.trustBundleFile" .))) -}}
{{- end -}}
{{- if $trust -}}
{{- $identity := default (dict) $cfg.identity -}}
{{- $spiffe := default (dict) $identity.spiffe -}}
{{- $_ := set $spiffe "trustBundles" (concat $trust (default (list) $spiffe.trustBundles)) -}}
{{- $_ := set $identity "spiffe" $spiffe -}}
{{- $_ := set $cfg "identity" $identity -}}
{{- end -}}
{{- $keyFiles := list -}}
{{- range $i, $k := .Values.bundleKeys -}}
{{- $keyFiles = append $keyFiles (printf "%s/%d-%s" $paths.bundleKeys $i (include "portcullis.sourceKey" $k)) -}}
{{- end -}}
{{- if $keyFiles -}}
{{- $bundle := default (dict) $cfg.bundle -}}
{{- $keys := default (dict) $bundle.keys -}}
{{- $_ := set $keys "files" (concat $keyFiles (default (list) $keys.files)) -}}
{{- $_ := set $bundle "keys" $keys -}}
{{- $_ := set $cfg "bundle" $bundle -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The key of a {configMap|secret: {name, key}} source. */}}
{{- define "portcullis.sourceKey" -}}
{{- $src := default .secret .configMap -}}
{{- $src.key -}}
{{- end -}}

{{/* File name of a trust bundle inside /etc/portcullis/trust/<trustDomain>/. */}}
{{- define "portcullis.trustBundleFile" -}}
{{- if .pem -}}bundle.pem{{- else -}}{{ include "portcullis.sourceKey" . }}{{- end -}}
{{- end -}}

{{/*
The enabled listeners of the effective config, as a YAML list: the config key under `server`, its
port (the server's default unless config sets one), the container and Service port names, the
Service appProtocol, and whether a sidecar binds it to 127.0.0.1 (sidecar.bindLocalhost).
*/}}
{{- define "portcullis.listeners" -}}
{{- $server := default (dict) .Values.config.server -}}
{{- $all := list
  (dict "key" "grpc" "default" 9191 "container" "pcls-grpc" "service" "grpc-authz" "appProtocol" "grpc" "local" true "toggle" false)
  (dict "key" "http" "default" 9192 "container" "pcls-http" "service" "http-authz" "appProtocol" "http" "local" true "toggle" true)
  (dict "key" "api" "default" 9194 "container" "pcls-api" "service" "http-api" "appProtocol" "http" "local" true "toggle" true)
  (dict "key" "admin" "default" 9193 "container" "pcls-admin" "service" "http-admin" "appProtocol" "http" "local" false "toggle" false)
-}}
{{- range $all }}
{{- $l := default (dict) (get $server .key) -}}
{{- if or (not .toggle) (not (hasKey $l "enabled")) $l.enabled }}
- key: {{ .key }}
  port: {{ default .default $l.port | int }}
  container: {{ .container }}
  service: {{ .service }}
  appProtocol: {{ .appProtocol }}
  local: {{ .local }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The port of one listener: (dict "ctx" . "listener" "grpc"); empty when it is disabled. */}}
{{- define "portcullis.port" -}}
{{- $want := .listener -}}
{{- range (include "portcullis.listeners" .ctx | fromYamlArray) -}}
{{- if eq .key $want -}}{{ .port }}{{- end -}}
{{- end -}}
{{- end -}}

{{/* Checksum of everything the pods read from the chart's ConfigMaps (rolls pods on change). */}}
{{- define "portcullis.checksum" -}}
{{- $parts := list (include "portcullis.config" .) (toYaml .Values.policies.files) (toYaml .Values.trustBundles) -}}
{{- join "\n" $parts | sha256sum -}}
{{- end -}}
