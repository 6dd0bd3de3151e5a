{{/* Kafka TLS + SCRAM for a component's pod (values: kafka.security). Each helper takes
(dict "root" $ "name" $name) and renders nothing when security is off or the component does not use Kafka
(not listed in files/kafka-users.yaml). */}}

{{- define "interarec.kafkaUserName" -}}
{{- include "interarec.componentName" . -}}
{{- end -}}

{{- define "interarec.usesKafka" -}}
{{- if and .root.Values.kafka.security.enabled (hasKey (.root.Files.Get "files/kafka-users.yaml" | fromYaml) .name) -}}
true
{{- end -}}
{{- end -}}

{{- define "interarec.kafkaSecurityEnv" -}}
{{- if include "interarec.usesKafka" . }}
{{- $sec := .root.Values.kafka.security }}
- {name: INTERAREC_KAFKA_SECURITY_PROTOCOL, value: {{ $sec.protocol | quote }}}
- {name: INTERAREC_KAFKA_CA_FILE, value: /etc/interarec/kafka-ca/ca.crt}
- {name: INTERAREC_KAFKA_SSL_CHECK_HOSTNAME, value: {{ $sec.checkHostname | quote }}}
{{- if eq $sec.protocol "SASL_SSL" }}
- {name: INTERAREC_KAFKA_SASL_MECHANISM, value: SCRAM-SHA-512}
- {name: INTERAREC_KAFKA_SASL_USERNAME, value: {{ include "interarec.kafkaUserName" . | quote }}}
- {name: INTERAREC_KAFKA_SASL_PASSWORD_FILE, value: /etc/interarec/kafka-user/password}
{{- end }}
{{- end }}
{{- end -}}

{{- define "interarec.kafkaSecurityMounts" -}}
{{- if include "interarec.usesKafka" . }}
- {name: kafka-ca, mountPath: /etc/interarec/kafka-ca, readOnly: true}
{{- if eq .root.Values.kafka.security.protocol "SASL_SSL" }}
- {name: kafka-user, mountPath: /etc/interarec/kafka-user, readOnly: true}
{{- end }}
{{- end }}
{{- end -}}

{{- define "interarec.kafkaSecurityVolumes" -}}
{{- if include "interarec.usesKafka" . }}
{{- $sec := .root.Values.kafka.security }}
- name: kafka-ca
  secret:
    secretName: {{ $sec.caSecret.name }}
    items: [{key: {{ $sec.caSecret.key }}, path: ca.crt}]
{{- if eq $sec.protocol "SASL_SSL" }}
- name: kafka-user
  secret:
    # created by Strimzi's User Operator for the KafkaUser of the same name (templates/kafkausers.yaml)
    secretName: {{ include "interarec.kafkaUserName" . }}
    items: [{key: password, path: password}]
{{- end }}
{{- end }}
{{- end -}}
