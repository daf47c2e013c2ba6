{{/* Deployment and Service of one printflow service (shop, crm, mes, gate):
     (dict "root" $ "name" "shop" "env" (include ...) "ports" (list (dict "name" "otlp-grpc" "port" 4317))
           "volumeMounts" "..." "volumes" "..." "annotations" (dict ...) "sessionAffinity" "ClientIP") */}}
{{- define "printflow.workload" -}}
{{- $root := .root -}}
{{- $svc := index $root.Values .name -}}
{{- $fullname := printf "%s-%s" (include "printflow.fullname" $root) .name -}}
{{- $sel := dict "root" $root "component" .name -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "printflow.componentLabels" $sel | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels:
      {{- include "printflow.selectorLabels" $sel | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "printflow.selectorLabels" $sel | nindent 8 }}
      {{- with .annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- include "printflow.podSpecCommon" $root | nindent 6 }}
      # SIGTERM: the services drain and flush their spans; readiness turns first.
      terminationGracePeriodSeconds: 30
      containers:
        - name: {{ .name }}
          image: {{ include "printflow.serviceImage" (dict "root" $root "binary" .name) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          env:
            - name: {{ upper .name }}_HTTP_HOST
              value: 0.0.0.0
            - name: {{ upper .name }}_HTTP_PORT
              value: {{ $svc.port | quote }}
            - name: LOG_FORMAT
              value: json
            {{- .env | nindent 12 }}
            {{- with $svc.env }}
            {{- include "printflow.extraEnv" . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ $svc.port }}
            {{- range .ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
            {{- end }}
          {{- include "printflow.probes" $root | nindent 10 }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .volumeMounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullname }}
  labels:
    {{- include "printflow.componentLabels" $sel | nindent 4 }}
    # The Prometheus job name the rules and dashboards select on.
    printflow.io/job: {{ .name }}
spec:
  type: ClusterIP
  {{- with .sessionAffinity }}
  sessionAffinity: {{ . }}
  {{- end }}
  selector:
    {{- include "printflow.selectorLabels" $sel | nindent 4 }}
  ports:
    - name: http
      port: {{ $svc.port }}
      targetPort: http
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
    {{- end }}
{{- end -}}
