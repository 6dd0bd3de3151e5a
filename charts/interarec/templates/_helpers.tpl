{{/* Names and labels shared by every template. */}}

{{- define "interarec.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>, e.g. shop-interarec-gateway. Call with (dict "root" $ "name" $name). */}}
{{- define "interarec.componentName" -}}
{{- printf "%s-%s" (include "interarec.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "interarec.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: interarec
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component. Call with (dict "root" $ "name" $name). */}}
{{- define "interarec.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "interarec.componentLabels" -}}
{{ include "interarec.labels" .root }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "interarec.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "interarec.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "interarec.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- printf "%s-%s:%s" .root.Values.image.repository .name $tag -}}
{{- end -}}

{{- define "interarec.vllmName" -}}
{{- include "interarec.componentName" (dict "root" . "name" "vllm") -}}
{{- end -}}

{{/* The topic spec (from files/kafka-topics.yaml) a worker consumes, for the lag query and replica bound. */}}
{{- define "interarec.topics" -}}
{{- $out := list }}
{{- range (.Files.Get "files/kafka-topics.yaml" | fromYaml).topics }}
{{- if .sessionKeyed }}{{ $_ := set . "partitions" $.Values.kafka.partitions }}{{ end }}
{{- $out = append $out . }}
{{- end }}
{{- $out | toJson -}}
{{- end -}}


{{/* topologySpreadConstraints, each selecting the component's own pods unless it names a labelSelector.
Call with (dict "ctx" (dict "root" $ "name" $name) "constraints" $list). */}}
{{- define "interarec.topologySpread" -}}
{{- $out := list }}
{{- range .constraints }}
{{- $out = append $out (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" (include "interarec.selectorLabels" $.ctx | fromYaml)))) }}
{{- end }}
{{- with $out }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
