#!/usr/bin/env python3
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate charts/<name>/values.schema.json for every first-party chart, and vendor the
hx-common library chart into charts/<name>/charts/hx-common as per-file relative symlinks
(works offline without `helm dependency build`; ansible-test forbids directory symlinks).

The sections every chart shares (global, image, resources, persistence, service,
security contexts, probes, scheduling) are defined once here; each chart adds its
own sections. Top level and every shared section reject unknown keys so a typo
fails `helm template/install` with "additional properties 'x' not allowed".

Run: python3 charts/gen_schemas.py   (tests check the files are up to date)
     python3 charts/gen_schemas.py --link <chart>...   (library links for other hx-common users)
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
QUANTITY = {"type": ["string", "number"], "pattern": "^[0-9.]+[a-zA-Z]*$"}
SIZE = {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|K|M|G|T|P)?$",
        "description": "Kubernetes quantity, e.g. 8Gi"}
OBJ = {"type": "object"}
SHA256 = {"type": "string", "pattern": "^([a-f0-9]{64})?$", "description": "hex sha256 digest"}


def strict(props, required=None, **extra):
    out = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    out.update(extra)
    return out


def image():
    return strict({
        "registry": STR,
        "repository": {"type": "string", "minLength": 1},
        "tag": {"type": "string", "minLength": 1, "description": "pinned upstream tag (quote numbers)"},
        "digest": STR,
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    }, required=["repository", "tag"])


RESOURCE_LIST = strict({"cpu": QUANTITY, "memory": QUANTITY, "ephemeral-storage": QUANTITY})
RESOURCES = strict({"requests": RESOURCE_LIST, "limits": RESOURCE_LIST})
PERSISTENCE = strict({
    "enabled": BOOL,
    "storageClass": STR,
    "size": SIZE,
    "accessModes": {"type": "array", "items": {"enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]}},
    "existingClaim": STR,
})
SERVICE = strict({
    "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "port": PORT,
    "nodePort": {"type": ["integer", "null"], "minimum": 30000, "maximum": 32767},
    "annotations": {"type": "object", "additionalProperties": STR},
})
PROBE = strict({
    "enabled": BOOL,
    "initialDelaySeconds": {"type": "integer", "minimum": 0},
    "periodSeconds": {"type": "integer", "minimum": 1},
    "timeoutSeconds": {"type": "integer", "minimum": 1},
    "failureThreshold": {"type": "integer", "minimum": 1},
    "successThreshold": {"type": "integer", "minimum": 1},
})
GLOBAL = {
    "type": "object",
    "properties": {
        "imageRegistry": {"type": "string", "description": "registry replacing every image's registry"},
        "imagePullSecrets": {"type": "array", "items": STR},
        "storageClass": STR,
    },
}
SA = strict({"create": BOOL, "name": STR, "automount": BOOL})


def base(extra_props, with_persistence=True, with_service=True, required=None):
    props = {
        "global": GLOBAL,
        "hx-common": OBJ,
        "nameOverride": STR,
        "fullnameOverride": STR,
        "image": image(),
        "resources": RESOURCES,
        "podSecurityContext": OBJ,
        "securityContext": OBJ,
        "livenessProbe": PROBE,
        "readinessProbe": PROBE,
        "serviceAccount": SA,
        "nodeSelector": {"type": "object", "additionalProperties": STR},
        "tolerations": {"type": "array", "items": OBJ},
        "affinity": OBJ,
    }
    if with_persistence:
        props["persistence"] = PERSISTENCE
    if with_service:
        props["service"] = SERVICE
    props.update(copy.deepcopy(extra_props))
    out = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": props,
    }
    if required:
        out["required"] = required
    return out


DB_AUTH = strict({
    "username": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
    "database": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
    "password": STR,
    "existingSecret": STR,
})

# Where a serving chart fetches its model from (initContainer, sha256 verified).
MODEL = strict({
    "source": {"enum": ["none", "modelsharing", "minio", "url"],
               "description": "none = no model is fetched"},
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]*$"},
    "version": STR,
    "fileName": {"type": "string", "pattern": "^[A-Za-z0-9_.-]*$"},
    "sha256": SHA256,
    "modelsharing": strict({
        "url": STR,
        "modelId": {"type": ["integer", "string"]},
        "tokenSecret": STR,
        "tokenKey": STR,
    }),
    "minio": strict({
        "endpoint": STR,
        "bucket": STR,
        "object": STR,
        "region": STR,
        "existingSecret": STR,
        "accessKeyKey": STR,
        "secretKeyKey": STR,
    }),
    "url": STR,
    "fetcherImage": image(),
})

CHARTS = {
    "postgres": base({
        "auth": DB_AUTH,
        "extraSettings": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    }),
    "timescaledb": base({
        "auth": DB_AUTH,
        "extraSettings": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    }),
    "minio": base({
        "auth": strict({"rootUser": {"type": "string", "minLength": 3}, "rootPassword": STR, "existingSecret": STR}),
        "buckets": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}},
        "consolePort": PORT,
        "provisioning": strict({"image": image(), "enabled": BOOL}),
    }),
    "pgadmin": base({
        "auth": strict({"email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+$"}, "password": STR, "existingSecret": STR}),
        "servers": {"type": "array", "items": strict({
            "name": STR, "host": STR, "port": PORT, "username": STR, "database": STR, "sslMode": STR,
        }, required=["name", "host"])},
    }),
    "mlflow": base({
        "backendStore": strict({
            "host": {"type": "string", "minLength": 1}, "port": PORT, "database": STR, "username": STR,
            "existingSecret": STR, "passwordKey": STR,
        }, required=["host"]),
        "artifacts": strict({
            "endpoint": {"type": "string", "pattern": "^https?://"}, "bucket": STR, "existingSecret": STR,
            "accessKeyKey": STR, "secretKeyKey": STR, "proxied": BOOL,
        }, required=["endpoint", "bucket"]),
        "workers": {"type": "integer", "minimum": 1, "maximum": 32},
    }, with_persistence=False),
    "torchserve": base({
        "model": MODEL,
        "ports": strict({"inference": PORT, "management": PORT, "metrics": PORT}),
        "config": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    }),
    "tfserving": base({
        "model": MODEL,
        "ports": strict({"grpc": PORT, "rest": PORT}),
    }),
    "prometheus": base({
        "retention": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h|d|w|y)$"},
        "scrapeInterval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
        "extraScrapeConfigs": {"type": "array", "items": OBJ},
        "kubernetesSD": strict({"enabled": BOOL, "namespaces": {"type": "array", "items": STR}}),
        "rbac": strict({"create": BOOL}),
    }),
    "kepler": base({
        "rbac": strict({"create": BOOL}),
        "hostPaths": strict({"proc": STR, "sys": STR, "modules": STR, "src": STR, "debugfs": STR}),
        "estimator": strict({"enabled": BOOL}),
    }, with_persistence=False),
    "scaphandre": base({
        "exporter": {"enum": ["prometheus", "stdout", "json", "riemann", "qemu"]},
        "hostPaths": strict({"proc": STR, "powercap": STR}),
        "extraArgs": {"type": "array", "items": STR},
    }, with_persistence=False),
    "grafana": base({
        "auth": strict({"adminUser": {"type": "string", "minLength": 1}, "adminPassword": STR, "existingSecret": STR}),
        "prometheus": strict({"url": {"type": "string", "pattern": "^https?://"}, "name": STR, "isDefault": BOOL}),
        "dashboards": strict({"enabled": BOOL, "folder": STR}),
    }),
    "kubeflow-pipelines": base({
        "mode": {"enum": ["minimal", "upstream"],
                 "description": "minimal = first-party API/UI pair; upstream = the offline kustomize output is applied by the module"},
        "apiServer": strict({"image": image(), "port": PORT, "grpcPort": PORT, "resources": RESOURCES}),
        "ui": strict({"image": image(), "port": PORT, "resources": RESOURCES}),
        "objectStore": strict({
            "host": STR, "port": PORT, "bucket": STR, "secure": BOOL,
            "existingSecret": STR, "accessKeyKey": STR, "secretKeyKey": STR,
        }),
        "database": strict({
            "driver": {"enum": ["mysql", "pgx"]}, "host": STR, "port": PORT, "database": STR,
            "username": STR, "existingSecret": STR, "passwordKey": STR,
        }),
    }),
}


def render(name):
    return json.dumps(CHARTS[name], indent=2, sort_keys=True) + "\n"


LIBRARY = "hx-common"


def library_files():
    base = os.path.join(HERE, LIBRARY)
    out = []
    for root, _dirs, names in os.walk(base):
        for name in names:
            out.append(os.path.relpath(os.path.join(root, name), base))
    return sorted(out)


def link_library(name, check):
    """charts/<name>/charts/hx-common/<f> -> relative symlink to charts/hx-common/<f>."""
    stale = []
    dest = os.path.join(HERE, name, "charts", LIBRARY)
    if os.path.islink(dest):
        if check:
            return [dest]
        os.unlink(dest)
    wanted = library_files()
    for rel in wanted:
        link = os.path.join(dest, rel)
        target = os.path.relpath(os.path.join(HERE, LIBRARY, rel), os.path.dirname(link))
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        stale.append(link)
        if not check:
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)
    for root, _dirs, names in os.walk(dest):
        for fname in names:
            rel = os.path.relpath(os.path.join(root, fname), dest)
            if rel not in wanted:
                stale.append(os.path.join(root, fname))
                if not check:
                    os.unlink(os.path.join(root, fname))
    return stale


def main(argv):
    if "--link" in argv:
        # vendor hx-common into other charts too: python3 charts/gen_schemas.py --link modelsharing
        for name in argv[argv.index("--link") + 1:]:
            link_library(name, check=False)
        return 0
    check = "--check" in argv
    stale = []
    for name in sorted(CHARTS):
        if os.path.isdir(os.path.join(HERE, name)):
            stale.extend(link_library(name, check))
    for name in sorted(CHARTS):
        if not os.path.isdir(os.path.join(HERE, name)):
            continue
        path = os.path.join(HERE, name, "values.schema.json")
        text = render(name)
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(path)
            if not check:
                with open(path, "w") as fh:
                    fh.write(text)
    if check and stale:
        sys.stderr.write("stale schemas or library links: %s\n" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
