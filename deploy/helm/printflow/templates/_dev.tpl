{{/* The dev bundle's shared parts. */}}

{{/* Pod security of a bundled image running as its own user: (dict "root" $ "uid" 999);
     "automount" true for a pod that talks to the Kubernetes API. */}}
{{- define "printflow.dev.podSecurity" -}}
automountServiceAccountToken: {{ .automount | default false }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ .uid }}
  runAsGroup: {{ .uid }}
  fsGroup: {{ .uid }}
  seccompProfile: {type: RuntimeDefault}
{{- include "printflow.imagePullSecrets" .root }}
{{- end -}}

{{/* Container security: (dict "readOnly" true) */}}
{{- define "printflow.dev.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: {{ .readOnly }}
  capabilities: {drop: [ALL]}
{{- end -}}

{{- define "printflow.dev.resources" -}}
resources:
  {{- toYaml .Values.dev.resources | nindent 2 }}
{{- end -}}

{{/* Service of a bundled component: (dict "root" $ "component" "postgres" "ports" (list (dict "name" "x" "port" 1))) */}}
{{- define "printflow.dev.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "printflow.fullname" .root }}-{{ .component }}
  labels:
    {{- include "printflow.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "printflow.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
    {{- end }}
{{- end -}}

{{/* Deployment header of a bundled component (one replica, Recreate): (dict "root" $ "component" "postgres") */}}
{{- define "printflow.dev.deploymentHead" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "printflow.fullname" .root }}-{{ .component }}
  labels:
    {{- include "printflow.componentLabels" . | nindent 4 }}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels:
      {{- include "printflow.selectorLabels" . | nindent 6 }}
{{- end -}}
