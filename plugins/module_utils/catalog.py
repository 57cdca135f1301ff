# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hx.mlops module catalog: what can be installed in a domain, from which chart,
after what. Pure Python (PyYAML only to read Chart.yaml/values.yaml), unit-tested."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False


CATEGORIES = (
    'storage',
    'ml_toolkit',
    'serving_platform',
    'energy_measurement',
    'observability',
    'link',
)

# name -> description. `chart` is the directory under charts/, `depends_on` the catalog
# modules that must be installed (and Ready) first when they are part of the same run.
CATALOG = {
    'postgres': {
        'category': 'storage', 'chart': 'postgres', 'depends_on': [],
        'description': 'PostgreSQL: metadata of MLflow and the sharing services',
    },
    'timescaledb': {
        'category': 'storage', 'chart': 'timescaledb', 'depends_on': [],
        'description': 'TimescaleDB: time series (energy, metrics history)',
    },
    'minio': {
        'category': 'storage', 'chart': 'minio', 'depends_on': [],
        'description': 'MinIO S3 object store: artifacts, models, datasets',
    },
    'pgadmin': {
        'category': 'storage', 'chart': 'pgadmin', 'depends_on': [],
        'description': 'pgAdmin web console for the domain databases',
    },
    'kubeflow_pipelines': {
        'category': 'ml_toolkit', 'chart': 'kubeflow-pipelines', 'depends_on': ['postgres', 'minio'],
        'description': 'Kubeflow Pipelines (minimal API/UI pair, or offline upstream manifests)',
    },
    'mlflow': {
        'category': 'ml_toolkit', 'chart': 'mlflow', 'depends_on': ['postgres', 'minio'],
        'description': 'MLflow tracking server on the domain postgres and minio',
    },
    'torchserve': {
        'category': 'serving_platform', 'chart': 'torchserve', 'depends_on': [],
        'description': 'TorchServe; model fetched from Model Sharing or MinIO, sha256 verified',
    },
    'tfserving': {
        'category': 'serving_platform', 'chart': 'tfserving', 'depends_on': [],
        'description': 'TensorFlow Serving; model fetched from Model Sharing or MinIO, sha256 verified',
    },
    'prometheus': {
        'category': 'energy_measurement', 'chart': 'prometheus', 'depends_on': [],
        'description': 'Prometheus scraping Kepler, Scaphandre and the serving platforms',
    },
    'kepler': {
        'category': 'energy_measurement', 'chart': 'kepler', 'depends_on': [],
        'description': 'Kepler energy estimation per pod (privileged DaemonSet)',
    },
    'scaphandre': {
        'category': 'energy_measurement', 'chart': 'scaphandre', 'depends_on': [],
        'description': 'Scaphandre RAPL power meter (root DaemonSet)',
    },
    'grafana': {
        'category': 'observability', 'chart': 'grafana', 'depends_on': ['prometheus'],
        'description': 'Grafana with the Prometheus datasource and HX dashboards',
    },
    'modelsharing': {
        'category': 'link', 'chart': 'modelsharing', 'depends_on': ['postgres', 'minio'],
        'description': 'Model Sharing API (link between domains)',
    },
    'datasetsharing': {
        'category': 'link', 'chart': 'datasetsharing', 'depends_on': ['postgres', 'minio'],
        'description': 'Dataset Sharing API (link between domains)',
    },
}


class CatalogError(Exception):
    """A catalog lookup failed; the message names the bad value and the valid choices."""


def module_names():
    return sorted(CATALOG)


def canonical_name(name):
    """Accept the chart spelling too (kubeflow-pipelines -> kubeflow_pipelines)."""
    if name is None:
        return None
    return str(name).strip().replace('-', '_')


def lookup(name, category=None):
    """Return (canonical name, entry); raise CatalogError naming the valid choices."""
    key = canonical_name(name)
    if key not in CATALOG:
        raise CatalogError(
            "unknown catalog module '%s'; valid modules: %s" % (name, ', '.join(module_names())))
    entry = CATALOG[key]
    if category is not None:
        if category not in CATEGORIES:
            raise CatalogError(
                "unknown category '%s'; valid categories: %s" % (category, ', '.join(CATEGORIES)))
        if entry['category'] != category:
            raise CatalogError(
                "module '%s' is in category '%s', not '%s'; modules of '%s': %s" % (
                    key, entry['category'], category, category,
                    ', '.join(names_in_category(category)) or '(none)'))
    return key, entry


def names_in_category(category):
    return [n for n in module_names() if CATALOG[n]['category'] == category]


def default_release(name):
    """Release name used when the caller gives none: the chart directory name."""
    return CATALOG[canonical_name(name)]['chart']


def chart_path(charts_dir, name):
    return os.path.join(charts_dir, CATALOG[canonical_name(name)]['chart'])


def dependency_levels(names, catalog=None):
    """Group `names` into install levels: every module comes after the modules it
    depends on *that are part of the same request* (an absent dependency is assumed
    external). Order inside a level follows the request. Raises CatalogError on an
    unknown name or a dependency cycle."""
    catalog = catalog if catalog is not None else CATALOG
    ordered = []
    for n in names:
        key = canonical_name(n)
        if key not in catalog:
            raise CatalogError(
                "unknown catalog module '%s'; valid modules: %s" % (n, ', '.join(sorted(catalog))))
        if key not in ordered:
            ordered.append(key)
    wanted = set(ordered)
    deps = dict((n, [d for d in catalog[n].get('depends_on', []) if d in wanted]) for n in ordered)
    levels = []
    placed = set()
    while len(placed) < len(ordered):
        level = [n for n in ordered if n not in placed and all(d in placed for d in deps[n])]
        if not level:
            stuck = [n for n in ordered if n not in placed]
            raise CatalogError('dependency cycle between: %s' % ', '.join(stuck))
        levels.append(level)
        placed.update(level)
    return levels


def removal_levels(names, catalog=None):
    """Uninstall order: dependents first (the install levels reversed)."""
    return list(reversed(dependency_levels(names, catalog)))


def _load_yaml(path):
    if not HAS_YAML:
        raise CatalogError('PyYAML is required to read %s' % path)
    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def chart_metadata(charts_dir, name):
    """Chart.yaml of a module's chart, or None when the chart is not shipped."""
    path = os.path.join(chart_path(charts_dir, name), 'Chart.yaml')
    if not os.path.isfile(path):
        return None
    return _load_yaml(path)


def default_values(charts_dir, name):
    path = os.path.join(chart_path(charts_dir, name), 'values.yaml')
    if not os.path.isfile(path):
        return {}
    return _load_yaml(path)


def values_schema(charts_dir, name):
    import json
    path = os.path.join(chart_path(charts_dir, name), 'values.schema.json')
    if not os.path.isfile(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def image_ref(image, registry_override=None):
    """registry/repository:tag[@digest] of an image block of values.yaml."""
    registry = registry_override or image.get('registry') or ''
    ref = '%s:%s' % (image['repository'], image['tag'])
    if registry:
        ref = '%s/%s' % (registry, ref)
    if image.get('digest'):
        ref = '%s@%s' % (ref, image['digest'])
    return ref


def images_from_values(values, registry_override=None):
    """Every image block ({repository, tag[, registry]}) anywhere in values, in order."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get('repository'), str) and node.get('tag') not in (None, ''):
                ref = image_ref(node, registry_override)
                if ref not in found:
                    found.append(ref)
                return
            for key in node:
                if key == 'global':
                    continue
                walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(values)
    return found


def images_from_manifests(objects):
    """Every container/initContainer image of rendered manifests (parsed objects)."""
    found = []
    for obj in objects:
        spec = (obj or {}).get('spec') or {}
        pod = spec.get('template', {}).get('spec') if isinstance(spec.get('template'), dict) else None
        if obj.get('kind') == 'Pod':
            pod = spec
        if not pod:
            continue
        for group in ('initContainers', 'containers'):
            for c in pod.get(group) or []:
                if c.get('image') and c['image'] not in found:
                    found.append(c['image'])
    return found


def describe(charts_dir, names=None, category=None):
    """The catalog listing: per module its category, chart, versions, dependencies, images."""
    out = []
    for name in names or module_names():
        key, entry = lookup(name, None)
        if category and entry['category'] != category:
            continue
        meta = chart_metadata(charts_dir, key)
        item = {
            'name': key,
            'category': entry['category'],
            'description': entry['description'],
            'chart': entry['chart'],
            'chart_path': chart_path(charts_dir, key),
            'available': meta is not None,
            'chart_version': (meta or {}).get('version'),
            'app_version': str((meta or {}).get('appVersion')) if meta and meta.get('appVersion') is not None else None,
            'depends_on': list(entry['depends_on']),
            'default_release': entry['chart'],
            'images': images_from_values(default_values(charts_dir, key)) if meta else [],
        }
        out.append(item)
    return out


def mirror_plan(images, target_registry):
    """[{source, target}] for copying images into an air-gapped registry; the target keeps
    the repository path and tag, only the registry changes (what global.imageRegistry does)."""
    plan = []
    for ref in images:
        first, _sep, rest = ref.partition('/')
        if rest and ('.' in first or ':' in first or first == 'localhost'):
            path = rest
        else:
            path = ref
        plan.append({'source': ref, 'target': '%s/%s' % (target_registry.rstrip('/'), path)})
    return plan
