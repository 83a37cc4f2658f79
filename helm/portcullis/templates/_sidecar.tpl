{{/*
Opt-in sidecar injection for workload charts that depend on this chart (mode: sidecar). In the
workload's pod template, with `$pod` its pod metadata (labels/annotations):

  metadata:
    annotations:
      {{- include "portcullis.sidecar.annotations" (dict "portcullis" $.Subcharts.portcullis "labels" $pod.labels "annotations" $pod.annotations) | nindent 8 }}
  spec:
    containers:
      - name: app
        ...
      {{- include "portcullis.sidecar.containers" (dict "portcullis" $.Subcharts.portcullis "labels" $pod.labels "annotations" $pod.annotations) | nindent 6 }}
    volumes:
      {{- include "portcullis.sidecar.volumes" (dict "portcullis" $.Subcharts.portcullis "labels" $pod.labels "annotations" $pod.annotations) | nindent 6 }}

Each helper renders nothing unless the pod opted in: label or annotation `portcullis.dev/inject`
(sidecar.injectLabel) = "true", and no annotation = "false". Pod annotations tune the sidecar:
  portcullis.dev/service: NAME    the bundle service to pull (bundle.service)
  portcullis.dev/log-level: LEVEL the process log level
With sidecar.native: true include `portcullis.sidecar.containers` under initContainers instead.
*/}}

{{/* "true" when the pod opted in. */}}
{{- define "portcullis.sidecar.enabled" -}}
{{- $key := .portcullis.Values.sidecar.injectLabel -}}
{{- $labels := default (dict) .labels -}}
{{- $annotations := default (dict) .annotations -}}
{{- $on := or (eq (toString (get $labels $key)) "true") (eq (toString (get $annotations $key)) "true") -}}
{{- if and $on (ne (toString (get $annotations $key)) "false") -}}true{{- end -}}
{{- end -}}

{{/* The Portcullis container as a list item (for containers, or initContainers when native). */}}
{{- define "portcullis.sidecar.containers" -}}
{{- if include "portcullis.sidecar.enabled" . -}}
{{- $annotations := default (dict) .annotations -}}
{{- $args := list -}}
{{- with get $annotations "portcullis.dev/service" -}}
{{- $args = concat $args (list "--set" (printf "bundle.service=%s" .)) -}}
{{- end -}}
{{- with get $annotations "portcullis.dev/log-level" -}}
{{- $args = concat $args (list "--log-level" .) -}}
{{- end -}}
- {{ include "portcullis.container" (dict "ctx" .portcullis "sidecar" true "native" .portcullis.Values.sidecar.native "args" $args) | indent 2 | trim }}
{{- end -}}
{{- end -}}

{{/* The volumes of the Portcullis container, as list items. */}}
{{- define "portcullis.sidecar.volumes" -}}
{{- if include "portcullis.sidecar.enabled" . -}}
{{ include "portcullis.volumes" .portcullis }}
{{- end -}}
{{- end -}}

{{/* Pod annotations: a checksum of the Portcullis config so pods roll when it changes. */}}
{{- define "portcullis.sidecar.annotations" -}}
{{- if include "portcullis.sidecar.enabled" . -}}
checksum/portcullis-config: {{ include "portcullis.checksum" .portcullis }}
{{- end -}}
{{- end -}}
