{{- define "kfp.enabled" -}}{{- if eq .Values.mode "minimal" -}}true{{- end -}}{{- end -}}
