{{/*
hx-common: helpers shared by every hx.mlops chart.
Every chart follows the same values layout (see docs/catalog.md):
  global.imageRegistry, image.{registry,repository,tag,pullPolicy}, resources,
  persistence.{enabled,size,storageClass,accessModes}, service.{type,port},
  podSecurityContext, securityContext, nodeSelector, tolerations, affinity.
*/}}

{{- define "hx-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-based name; the release name alone when it already contains the chart name. */}}
{{- define "hx-common.fullname" -}}
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

{{- define "hx-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hx-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "hx-common.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "hx-common.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hx-mlops
{{- end -}}

{{/*
Image reference. Call with (dict "image" .Values.image "global" .Values.global).
global.imageRegistry replaces the registry of every image (air-gapped mirror).
*/}}
{{- define "hx-common.image" -}}
{{- $registry := .image.registry | default "" -}}
{{- if and .global .global.imageRegistry -}}
{{- $registry = .global.imageRegistry -}}
{{- end -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* A container "image:" + "imagePullPolicy:" pair. Call with (dict "image" ... "global" ...). */}}
{{- define "hx-common.imageFields" -}}
image: {{ include "hx-common.image" . | quote }}
imagePullPolicy: {{ .image.pullPolicy | default "IfNotPresent" }}
{{- end -}}

{{- define "hx-common.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Scheduling fields shared by every pod spec. */}}
{{- define "hx-common.scheduling" -}}
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

{{/* A PersistentVolumeClaim. Call with (dict "ctx" . "name" "data" "persistence" .Values.persistence). */}}
{{- define "hx-common.pvc" -}}
{{- $p := .persistence -}}
{{- if and $p.enabled (not $p.existingClaim) }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "hx-common.fullname" .ctx }}-{{ .name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "hx-common.labels" .ctx | nindent 4 }}
spec:
  accessModes:
    {{- toYaml ($p.accessModes | default (list "ReadWriteOnce")) | nindent 4 }}
  {{- $sc := $p.storageClass | default .ctx.Values.global.storageClass }}
  {{- if $sc }}
  {{- if eq "-" $sc }}
  storageClassName: ""
  {{- else }}
  storageClassName: {{ $sc | quote }}
  {{- end }}
  {{- end }}
  resources:
    requests:
      storage: {{ $p.size | quote }}
{{- end }}
{{- end -}}

{{/* The claim name a pod volume refers to (existingClaim wins). */}}
{{- define "hx-common.claimName" -}}
{{- .persistence.existingClaim | default (printf "%s-%s" (include "hx-common.fullname" .ctx) .name) -}}
{{- end -}}

{{/* A volume for persistence: the claim when enabled, an emptyDir otherwise. */}}
{{- define "hx-common.dataVolume" -}}
- name: {{ .name }}
{{- if .persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "hx-common.claimName" . }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}

{{/*
A Service. Call with (dict "ctx" . "ports" (list (dict "name" "http" "port" 80 "targetPort" "http"))).
Type comes from .Values.service.type (ClusterIP by default in every chart).
*/}}
{{- define "hx-common.service" -}}
{{- $svc := .ctx.Values.service -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .name | default (include "hx-common.fullname" .ctx) }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "hx-common.labels" .ctx | nindent 4 }}
  {{- with $svc.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $svc.type | default "ClusterIP" }}
  {{- if .headless }}
  clusterIP: None
  {{- end }}
  selector:
    {{- include "hx-common.selectorLabels" .ctx | nindent 4 }}
    {{- with .component }}
    app.kubernetes.io/component: {{ . }}
    {{- end }}
  ports:
    {{- range .ports }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .targetPort | default .name }}
      protocol: {{ .protocol | default "TCP" }}
      {{- if and (eq ($svc.type | default "ClusterIP") "NodePort") .nodePort }}
      nodePort: {{ .nodePort }}
      {{- end }}
    {{- end }}
{{- end -}}

{{/* ServiceAccount, rendered when serviceAccount.create is true. */}}
{{- define "hx-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "hx-common.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "hx-common.serviceAccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "hx-common.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "hx-common.labels" . | nindent 4 }}
automountServiceAccountToken: {{ .Values.serviceAccount.automount | default false }}
{{- end }}
{{- end -}}

{{/* Pod-template checksum annotation so a changed Secret/ConfigMap rolls the pods. */}}
{{- define "hx-common.checksum" -}}
{{- .content | sha256sum -}}
{{- end -}}

{{/*
Model fetch initContainer shared by the serving charts.
Call with (dict "ctx" . "model" .Values.model "mount" "/models" "extract" false).
Downloads the model from the domain's Model Sharing API (bearer token from a Secret),
from MinIO/S3 (SigV4 signed by curl, keys from a Secret) or a plain URL, verifies its
sha256 digest and only then moves it into place. A file already present with the right
digest is kept (no re-download on restart). With extract=true a .tar.gz is unpacked
into <mount>/<name>/<version> (TF Serving SavedModel layout).
*/}}
{{- define "hx-common.modelFetch" -}}
{{- $m := .model -}}
{{- if ne $m.source "none" }}
{{- $sha := required (printf "%s: model.sha256 is required when model.source is %s (the digest is verified before serving)" .ctx.Chart.Name $m.source) $m.sha256 -}}
- name: fetch-model
  {{- include "hx-common.imageFields" (dict "image" $m.fetcherImage "global" .ctx.Values.global) | nindent 2 }}
  command: ["/bin/sh", "-ec"]
  args:
    - |
      dest="$MODEL_DIR/$MODEL_FILE"
      if [ -f "$dest" ] && echo "$MODEL_SHA256  $dest" | sha256sum -c - >/dev/null 2>&1; then
        echo "model $MODEL_FILE already present with the expected digest"
      else
        case "$MODEL_SOURCE" in
          modelsharing)
            # credentials go to curl on stdin (-K -), never on its argv
            printf 'header = "Authorization: Bearer %s"\n' "$MODEL_TOKEN" | curl -K - -fsSL --retry 5 --retry-connrefused \
              -o "$dest.part" "$MODEL_URL/api/v1/model/by_id/$MODEL_ID?version=$MODEL_VERSION" ;;
          minio)
            printf 'user = "%s:%s"\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" | curl -K - -fsSL --retry 5 --retry-connrefused \
              --aws-sigv4 "aws:amz:$S3_REGION:s3" -o "$dest.part" "$S3_ENDPOINT/$S3_BUCKET/$S3_OBJECT" ;;
          url)
            curl -fsSL --retry 5 --retry-connrefused -o "$dest.part" "$MODEL_URL" ;;
        esac
        if ! echo "$MODEL_SHA256  $dest.part" | sha256sum -c -; then
          echo "sha256 digest mismatch for $MODEL_FILE: expected $MODEL_SHA256, got $(sha256sum "$dest.part" | cut -d' ' -f1)" >&2
          rm -f "$dest.part"
          exit 1
        fi
        mv "$dest.part" "$dest"
      fi
      {{- if .extract }}
      mkdir -p "$MODEL_DIR/$MODEL_NAME/$MODEL_VERSION_DIR"
      tar -xzf "$dest" -C "$MODEL_DIR/$MODEL_NAME/$MODEL_VERSION_DIR"
      {{- end }}
  env:
    - {name: MODEL_SOURCE, value: {{ $m.source | quote }}}
    - {name: MODEL_DIR, value: {{ .mount | quote }}}
    - {name: MODEL_NAME, value: {{ $m.name | quote }}}
    - {name: MODEL_FILE, value: {{ required "model.fileName is required" $m.fileName | quote }}}
    - {name: MODEL_VERSION, value: {{ $m.version | default "latest" | quote }}}
    - {name: MODEL_VERSION_DIR, value: {{ regexReplaceAll "[^0-9]" ($m.version | default "1") "" | default "1" | quote }}}
    - {name: MODEL_SHA256, value: {{ $sha | quote }}}
    {{- if eq $m.source "modelsharing" }}
    - {name: MODEL_URL, value: {{ required "model.modelsharing.url is required" $m.modelsharing.url | trimSuffix "/" | quote }}}
    - {name: MODEL_ID, value: {{ required "model.modelsharing.modelId is required" $m.modelsharing.modelId | toString | quote }}}
    - name: MODEL_TOKEN
      valueFrom:
        secretKeyRef:
          name: {{ required "model.modelsharing.tokenSecret is required" $m.modelsharing.tokenSecret }}
          key: {{ $m.modelsharing.tokenKey | default "token" }}
    {{- else if eq $m.source "minio" }}
    - {name: S3_ENDPOINT, value: {{ required "model.minio.endpoint is required" $m.minio.endpoint | trimSuffix "/" | quote }}}
    - {name: S3_BUCKET, value: {{ required "model.minio.bucket is required" $m.minio.bucket | quote }}}
    - {name: S3_OBJECT, value: {{ required "model.minio.object is required" $m.minio.object | quote }}}
    - {name: S3_REGION, value: {{ $m.minio.region | default "us-east-1" | quote }}}
    - name: S3_ACCESS_KEY
      valueFrom:
        secretKeyRef: {name: {{ required "model.minio.existingSecret is required" $m.minio.existingSecret }}, key: {{ $m.minio.accessKeyKey | default "rootUser" }}}
    - name: S3_SECRET_KEY
      valueFrom:
        secretKeyRef: {name: {{ $m.minio.existingSecret }}, key: {{ $m.minio.secretKeyKey | default "rootPassword" }}}
    {{- else }}
    - {name: MODEL_URL, value: {{ required "model.url is required" $m.url | quote }}}
    {{- end }}
  resources:
    requests: {cpu: 10m, memory: 32Mi}
    limits: {cpu: 500m, memory: 128Mi}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
  volumeMounts:
    - name: models
      mountPath: {{ .mount }}
{{- end }}
{{- end -}}
