{{/* Name of the Secret holding databaseUrl, s3AccessKey, s3SecretKey. */}}
{{- define "sharing.secretName" -}}
{{- if .Values.secret.create -}}
{{- printf "%s-config" (include "hx-common.fullname" .) -}}
{{- else -}}
{{- .Values.secret.existingSecret | default (printf "%s-config" (include "hx-common.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/* Environment shared by the API container and its init containers. */}}
{{- define "sharing.env" -}}
{{- $secret := include "sharing.secretName" . -}}
- name: HX_SHARING_DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: databaseUrl}
- name: HX_SHARING_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: s3AccessKey}
- name: HX_SHARING_S3_SECRET_KEY
  valueFrom:
    secretKeyRef: {name: {{ $secret }}, key: s3SecretKey}
- {name: HX_SHARING_S3_ENDPOINT_URL, value: {{ .Values.config.s3Endpoint | quote }}}
- {name: HX_SHARING_S3_REGION, value: {{ .Values.config.s3Region | quote }}}
- {name: HX_SHARING_{{ .Values.api | upper }}_BUCKET, value: {{ .Values.config.bucket | quote }}}
- {name: HX_SHARING_MAX_UPLOAD_BYTES, value: {{ .Values.config.maxUploadBytes | int64 | quote }}}
- {name: HX_SHARING_PART_SIZE, value: {{ .Values.config.partSize | int64 | quote }}}
- {name: HX_SHARING_LOG_LEVEL, value: {{ .Values.config.logLevel | quote }}}
- {name: HX_SHARING_LOG_FORMAT, value: json}
- {name: HX_SHARING_AUTH_CACHE_SECONDS, value: {{ .Values.config.authCacheSeconds | quote }}}
{{- end -}}
