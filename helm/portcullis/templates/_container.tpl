{{/*
The Portcullis container and its volumes, shared by the gateway workload and the sidecar helpers.
Call: (dict "ctx" <chart context> "sidecar" <bool> "native" <bool> "args" <list of extra flags>).
*/}}
{{- define "portcullis.container" -}}
{{- $ctx := .ctx -}}
{{- $v := $ctx.Values -}}
{{- $paths := include "portcullis.paths" $ctx | fromYaml -}}
name: portcullis
image: {{ include "portcullis.image" $ctx | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
args:
  - serve
  - --config
  - {{ $paths.configFile }}
  {{- if and .sidecar $v.sidecar.bindLocalhost }}
  {{- range (include "portcullis.listeners" $ctx | fromYamlArray) }}{{ if .local }}
  - --set
  - server.{{ .key }}.host=127.0.0.1
  {{- end }}{{ end }}
  {{- end }}
  {{- range .args }}
  - {{ . | quote }}
  {{- end }}
  {{- range $v.extraArgs }}
  - {{ . | quote }}
  {{- end }}
{{- with $v.extraEnv }}
env:
  {{- toYaml . | nindent 2 }}
{{- end }}
ports:
  {{- range (include "portcullis.listeners" $ctx | fromYamlArray) }}
  - name: {{ .container }}
    containerPort: {{ .port }}
    protocol: TCP
  {{- end }}
{{- with $v.probes.startup }}{{ if .enabled }}
startupProbe:
  httpGet:
    path: /healthz
    port: pcls-admin
  periodSeconds: {{ .periodSeconds }}
  failureThreshold: {{ .failureThreshold }}
  timeoutSeconds: {{ .timeoutSeconds }}
{{- end }}{{ end }}
{{- with $v.probes.liveness }}{{ if .enabled }}
livenessProbe:
  httpGet:
    path: /healthz
    port: pcls-admin
  periodSeconds: {{ .periodSeconds }}
  failureThreshold: {{ .failureThreshold }}
  timeoutSeconds: {{ .timeoutSeconds }}
{{- end }}{{ end }}
{{- with $v.probes.readiness }}{{ if .enabled }}
readinessProbe:
  httpGet:
    path: /readyz
    port: pcls-admin
  periodSeconds: {{ .periodSeconds }}
  failureThreshold: {{ .failureThreshold }}
  timeoutSeconds: {{ .timeoutSeconds }}
{{- end }}{{ end }}
{{- with $v.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
volumeMounts:
  - name: portcullis-config
    mountPath: {{ $paths.config }}
    readOnly: true
  {{- if include "portcullis.mountsPolicies" $ctx }}
  - name: portcullis-policies
    mountPath: {{ $paths.policies }}
    readOnly: true
  {{- end }}
  {{- if $v.trustBundles }}
  - name: portcullis-trust
    mountPath: {{ $paths.trust }}
    readOnly: true
  {{- end }}
  {{- if $v.bundleKeys }}
  - name: portcullis-bundle-keys
    mountPath: {{ $paths.bundleKeys }}
    readOnly: true
  {{- end }}
  {{- if include "portcullis.pullsBundles" $ctx }}
  - name: portcullis-lkg
    mountPath: {{ $paths.lkg }}
  {{- end }}
  - name: portcullis-tmp
    mountPath: /tmp
  {{- with $v.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- if .native }}
restartPolicy: Always
{{- end }}
{{- end -}}

{{/* The volumes the Portcullis container mounts. Call with the chart context. */}}
{{- define "portcullis.volumes" -}}
{{- $ctx := . -}}
- name: portcullis-config
  configMap:
    name: {{ include "portcullis.nameWith" (dict "ctx" $ctx "suffix" "config") }}
{{- if include "portcullis.mountsPolicies" $ctx }}
- name: portcullis-policies
  configMap:
    name: {{ include "portcullis.policiesConfigMap" $ctx }}
{{- end }}
{{- with .Values.trustBundles }}
- name: portcullis-trust
  projected:
    sources:
      {{- range . }}
      {{- if .pem }}
      - configMap:
          name: {{ include "portcullis.nameWith" (dict "ctx" $ctx "suffix" "trust") }}
          items:
            - key: {{ .trustDomain }}.pem
              path: {{ .trustDomain }}/bundle.pem
      {{- else if .configMap }}
      - configMap:
          name: {{ .configMap.name }}
          items:
            - key: {{ .configMap.key }}
              path: {{ .trustDomain }}/{{ .configMap.key }}
      {{- else }}
      - secret:
          name: {{ .secret.name }}
          items:
            - key: {{ .secret.key }}
              path: {{ .trustDomain }}/{{ .secret.key }}
      {{- end }}
      {{- end }}
{{- end }}
{{- with .Values.bundleKeys }}
- name: portcullis-bundle-keys
  projected:
    sources:
      {{- range $i, $k := . }}
      {{- if $k.configMap }}
      - configMap:
          name: {{ $k.configMap.name }}
          items:
            - key: {{ $k.configMap.key }}
              path: {{ $i }}-{{ $k.configMap.key }}
      {{- else }}
      - secret:
          name: {{ $k.secret.name }}
          items:
            - key: {{ $k.secret.key }}
              path: {{ $i }}-{{ $k.secret.key }}
      {{- end }}
      {{- end }}
{{- end }}
{{- if include "portcullis.pullsBundles" $ctx }}
- name: portcullis-lkg
  emptyDir: {}
{{- end }}
- name: portcullis-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 32Mi
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
