{{/* Names, labels, images, addresses and credentials shared by every template. */}}

{{- define "printflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "printflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: printflow
{{- end -}}

{{/* selector labels of one component: (dict "root" $ "component" "shop") */}}
{{- define "printflow.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "printflow.componentLabels" -}}
{{ include "printflow.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference with the registry prefix: (dict "root" $ "ref" "postgres:15") */}}
{{- define "printflow.image" -}}
{{- with .root.Values.global.imageRegistry -}}
{{- printf "%s/%s" (trimSuffix "/" .) $.ref -}}
{{- else -}}
{{- .ref -}}
{{- end -}}
{{- end -}}

{{/* printflow's own image of a binary: (dict "root" $ "binary" "shop") */}}
{{- define "printflow.serviceImage" -}}
{{- $v := .root.Values.image -}}
{{- include "printflow.image" (dict "root" .root "ref" (printf "%s/%s:%s" $v.repository .binary (default .root.Chart.AppVersion $v.tag))) -}}
{{- end -}}

{{- define "printflow.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- addresses */}}

{{- define "printflow.issuer" -}}
{{- default (printf "%s/realms/%s" (trimSuffix "/" .Values.publicUrls.keycloak) .Values.auth.realm) .Values.auth.issuerUrl -}}
{{- end -}}

{{/* Keycloak's realm as the pods reach it (tokens, keys). */}}
{{- define "printflow.realmUrl" -}}
{{- if .Values.dev.enabled -}}
{{- printf "http://%s-keycloak:8080/realms/%s" (include "printflow.fullname" .) .Values.auth.realm -}}
{{- else -}}
{{- printf "%s/realms/%s" (trimSuffix "/" .Values.external.keycloak.url) .Values.auth.realm -}}
{{- end -}}
{{- end -}}

{{- define "printflow.tokenUrl" -}}
{{- include "printflow.realmUrl" . }}/protocol/openid-connect/token
{{- end -}}

{{- define "printflow.jwksUrl" -}}
{{- include "printflow.realmUrl" . }}/protocol/openid-connect/certs
{{- end -}}

{{- define "printflow.pgHostPort" -}}
{{- if .Values.dev.enabled -}}
{{- printf "%s-postgres:5432" (include "printflow.fullname" .) -}}
{{- else -}}
{{- printf "%s:%v" .Values.external.postgresql.host .Values.external.postgresql.port -}}
{{- end -}}
{{- end -}}

{{/* The AMQP URL of a service's user, one per node, comma-separated (the services fail over
     between them). The password is the env var RABBITMQ_PASSWORD, defined before it:
     (dict "root" $ "user" "printflow-crm") */}}
{{- define "printflow.amqpUrl" -}}
{{- $root := .root -}}
{{- $hosts := list (printf "%s-rabbitmq:5672" (include "printflow.fullname" $root)) -}}
{{- $vhost := "/" -}}
{{- if not $root.Values.dev.enabled -}}
{{- $hosts = required "external.rabbitmq.hosts needs at least one host:port" $root.Values.external.rabbitmq.hosts -}}
{{- $vhost = $root.Values.external.rabbitmq.vhost -}}
{{- end -}}
{{- $urls := list -}}
{{- range $hosts -}}
{{- $urls = append $urls (printf "amqp://%s:$(RABBITMQ_PASSWORD)@%s/%s" $.user . ($vhost | urlquery)) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{- define "printflow.jaegerOtlpUrl" -}}
{{- if .Values.dev.enabled -}}
{{- printf "http://%s-jaeger:14318/v1/traces" (include "printflow.fullname" .) -}}
{{- else -}}
{{- .Values.external.jaeger.otlpUrl -}}
{{- end -}}
{{- end -}}

{{/* The gate's own spans go straight to Jaeger: the OTLP base URL (without /v1/traces). */}}
{{- define "printflow.jaegerOtlpBase" -}}
{{- include "printflow.jaegerOtlpUrl" . | trimSuffix "/v1/traces" -}}
{{- end -}}

{{- define "printflow.jaegerQueryUrl" -}}
{{- if .Values.dev.enabled -}}
{{- printf "http://%s-jaeger:16687/jaeger" (include "printflow.fullname" .) -}}
{{- else -}}
{{- .Values.external.jaeger.queryUrl -}}
{{- end -}}
{{- end -}}

{{- define "printflow.prometheusUrl" -}}
{{- if .Values.dev.enabled -}}
{{- printf "http://%s-prometheus:9090" (include "printflow.fullname" .) -}}
{{- else -}}
{{- .Values.external.prometheus.url -}}
{{- end -}}
{{- end -}}

{{- define "printflow.alertmanagerUrl" -}}
{{- if .Values.dev.enabled -}}
{{- printf "http://%s-alertmanager:9093" (include "printflow.fullname" .) -}}
{{- else -}}
{{- .Values.external.alertmanager.url -}}
{{- end -}}
{{- end -}}

{{- define "printflow.serviceUrl" -}}
{{- $svc := index .root.Values .name -}}
{{- printf "http://%s-%s:%v" (include "printflow.fullname" .root) .name $svc.port -}}
{{- end -}}

{{/* ---------------------------------------------------------------- credentials */}}

{{- define "printflow.secretName" -}}
{{- default (printf "%s-credentials" (include "printflow.fullname" .)) .Values.credentials.existingSecret -}}
{{- end -}}

{{/* An env entry read from the credentials Secret: (dict "root" $ "name" "VAR" "key" "k") */}}
{{- define "printflow.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "printflow.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{/* The dev realm's default of a client's secret, from its ${VAR:default} placeholder. */}}
{{- define "printflow.realmDefaultSecret" -}}
{{- $realm := .root.Files.Get "files/keycloak/printflow-realm.json" | fromJson -}}
{{- range $realm.clients -}}
{{- if eq .clientId $.client -}}
{{- regexReplaceAll "^\\$\\{[A-Z0-9_]+:(.*)\\}$" .secret "${1}" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The realm's placeholder variable of a client's secret (PRINTFLOW_SHOP_API_CLIENT_SECRET). */}}
{{- define "printflow.realmSecretVar" -}}
{{- $realm := .root.Files.Get "files/keycloak/printflow-realm.json" | fromJson -}}
{{- range $realm.clients -}}
{{- if eq .clientId $.client -}}
{{- regexReplaceAll "^\\$\\{([A-Z0-9_]+):.*\\}$" .secret "${1}" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* ---------------------------------------------------------------- pods */}}

{{- define "printflow.podSpecCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- include "printflow.imagePullSecrets" . }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Extra env of a service from its `env` map. */}}
{{- define "printflow.extraEnv" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* Shop, CRM and MES: trust the realm, call others with their client, export spans through
     the gate with their own token (as scripts/stack.sh starts them). (dict "root" $ "name" "shop") */}}
{{- define "printflow.serviceAuthEnv" -}}
{{- $p := upper .name -}}
- name: {{ $p }}_AUTH_ISSUER_URL
  value: {{ include "printflow.issuer" .root | quote }}
- name: {{ $p }}_AUTH_JWKS_URL
  value: {{ include "printflow.jwksUrl" .root | quote }}
- name: {{ $p }}_AUTH_TOKEN_URL
  value: {{ include "printflow.tokenUrl" .root | quote }}
{{ include "printflow.secretEnv" (dict "root" .root "name" (printf "%s_AUTH_CLIENT_SECRET" $p) "key" (printf "%s-api-client-secret" .name)) }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ printf "http://%s-gate:%v" (include "printflow.fullname" .root) .root.Values.gate.otlpHttpPort | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: http/protobuf
- name: TELEMETRY_TOKEN_URL
  value: {{ include "printflow.tokenUrl" .root | quote }}
- name: TELEMETRY_CLIENT_ID
  value: {{ printf "%s-api" .name }}
{{ include "printflow.secretEnv" (dict "root" .root "name" "TELEMETRY_CLIENT_SECRET" "key" (printf "%s-api-client-secret" .name)) }}
{{- end -}}

{{/* Probes on the named port http: readiness /readyz, liveness /healthz, and a start-up
     allowance for the first migration. */}}
{{- define "printflow.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 2
  failureThreshold: 60
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
{{- end -}}
