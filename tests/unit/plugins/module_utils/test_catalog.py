# -*- coding: utf-8 -*-
# Copyright: (c) 2026, HX-MLOps maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the catalog description: lookups, dependency ordering, images, charts."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.hx.mlops.plugins.module_utils import catalog  # noqa: E402

CHARTS = os.path.join(ROOT, "charts")
FIRST_PARTY = [n for n, e in sorted(catalog.CATALOG.items()) if e["category"] != "link"]

ISSUE_TABLE = {
    "storage": {"postgres", "timescaledb", "minio", "pgadmin"},
    "ml_toolkit": {"kubeflow_pipelines", "mlflow"},
    "serving_platform": {"torchserve", "tfserving"},
    "energy_measurement": {"prometheus", "kepler", "scaphandre"},
    "observability": {"grafana"},
    "link": {"modelsharing", "datasetsharing"},
}


def test_every_module_of_the_issue_table_is_in_the_catalog():
    for category, names in ISSUE_TABLE.items():
        assert set(catalog.names_in_category(category)) == names


@pytest.mark.parametrize("name, category, expected", [
    ("postgres", None, "postgres"),
    ("kubeflow-pipelines", "ml_toolkit", "kubeflow_pipelines"),
    (" mlflow ", "ml_toolkit", "mlflow"),
])
def test_lookup_accepts(name, category, expected):
    assert catalog.lookup(name, category)[0] == expected


def test_unknown_module_names_the_valid_ones():
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.lookup("postgresql")
    msg = str(exc.value)
    assert "unknown catalog module 'postgresql'" in msg
    for name in ("postgres", "mlflow", "grafana", "kubeflow_pipelines"):
        assert name in msg


def test_wrong_category_names_the_right_one_and_the_members():
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.lookup("mlflow", "storage")
    msg = str(exc.value)
    assert "'mlflow' is in category 'ml_toolkit', not 'storage'" in msg
    assert "minio, pgadmin, postgres, timescaledb" in msg


def test_unknown_category_lists_categories():
    with pytest.raises(catalog.CatalogError) as exc:
        catalog.lookup("mlflow", "toolkits")
    assert "valid categories: storage, ml_toolkit, serving_platform" in str(exc.value)


@pytest.mark.parametrize("names, levels", [
    (["grafana", "prometheus"], [["prometheus"], ["grafana"]]),
    (["mlflow", "minio", "postgres"], [["minio", "postgres"], ["mlflow"]]),
    # an absent dependency is external: mlflow alone is one level
    (["mlflow"], [["mlflow"]]),
    (["postgres", "timescaledb", "minio", "pgadmin", "kubeflow_pipelines", "mlflow", "torchserve",
      "tfserving", "prometheus", "kepler", "scaphandre", "grafana"],
     [["postgres", "timescaledb", "minio", "pgadmin", "torchserve", "tfserving", "prometheus", "kepler",
       "scaphandre"], ["kubeflow_pipelines", "mlflow", "grafana"]]),
    (["kubeflow-pipelines", "postgres", "postgres"], [["postgres"], ["kubeflow_pipelines"]]),
    ([], []),
])
def test_dependency_levels(names, levels):
    assert catalog.dependency_levels(names) == levels


def test_removal_is_reverse():
    assert catalog.removal_levels(["grafana", "prometheus"]) == [["grafana"], ["prometheus"]]


def test_cycle_and_unknown_are_errors():
    cyc = {"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}, "c": {"depends_on": []}}
    with pytest.raises(catalog.CatalogError, match="dependency cycle between: a, b"):
        catalog.dependency_levels(["a", "b", "c"], cyc)
    with pytest.raises(catalog.CatalogError, match="unknown catalog module 'nope'"):
        catalog.dependency_levels(["nope"])


def test_images_from_values_walks_nested_blocks_and_overrides_registry():
    values = {
        "global": {"imageRegistry": "", "image": {"repository": "ignored", "tag": "x"}},
        "image": {"registry": "docker.io", "repository": "library/postgres", "tag": "16.4"},
        "model": {"fetcherImage": {"registry": "docker.io", "repository": "curlimages/curl", "tag": "8.10.1"}},
        "ui": {"image": {"repository": "ml-pipeline/frontend", "tag": "2.3.0"}},
        "list": [{"repository": "a/b", "tag": "1", "digest": "sha256:ab"}],
    }
    assert catalog.images_from_values(values) == [
        "docker.io/library/postgres:16.4", "docker.io/curlimages/curl:8.10.1",
        "ml-pipeline/frontend:2.3.0", "a/b:1@sha256:ab"]
    assert catalog.images_from_values(values, "mirror:5000")[0] == "mirror:5000/library/postgres:16.4"


def test_images_from_manifests():
    objs = [
        {"kind": "Deployment", "spec": {"template": {"spec": {
            "initContainers": [{"image": "curl:1"}], "containers": [{"image": "ts:1"}, {"image": "curl:1"}]}}}},
        {"kind": "Service", "spec": {"ports": []}},
        {"kind": "DaemonSet", "spec": {"template": {"spec": {"containers": [{"image": "kepler:1"}]}}}},
    ]
    assert catalog.images_from_manifests(objs) == ["curl:1", "ts:1", "kepler:1"]


@pytest.mark.parametrize("ref, target", [
    ("docker.io/library/postgres:16.4", "m:5000/library/postgres:16.4"),
    ("quay.io/minio/minio:RELEASE.x", "m:5000/minio/minio:RELEASE.x"),
    ("library/postgres:16.4", "m:5000/library/postgres:16.4"),
    ("localhost/hx/x:1", "m:5000/hx/x:1"),
])
def test_mirror_plan(ref, target):
    assert catalog.mirror_plan([ref], "m:5000/") == [{"source": ref, "target": target}]


# --- the shipped charts ------------------------------------------------------------------------

@pytest.mark.parametrize("name", FIRST_PARTY)
def test_chart_metadata_and_images(name):
    meta = catalog.chart_metadata(CHARTS, name)
    assert meta["apiVersion"] == "v2" and meta["version"] == "0.1.0" and meta["appVersion"]
    assert meta["annotations"]["hx.mlops/category"] == catalog.CATALOG[name]["category"]
    assert {"name": "hx-common", "version": "0.1.0", "repository": "file://../hx-common"} in meta["dependencies"]
    # the library chart is vendored as per-file relative symlinks: works offline without
    # `helm dependency build`, and ansible-test sanity forbids symlinks to directories
    vendored = os.path.join(catalog.chart_path(CHARTS, name), "charts", "hx-common")
    assert not os.path.islink(vendored)
    for rel in ("Chart.yaml", os.path.join("templates", "_helpers.tpl")):
        link = os.path.join(vendored, rel)
        assert os.path.islink(link) and not os.path.isabs(os.readlink(link))
        assert os.path.realpath(link) == os.path.realpath(os.path.join(CHARTS, "hx-common", rel))
    images = catalog.images_from_values(catalog.default_values(CHARTS, name))
    assert images and all(":" in i and not i.endswith(":latest") for i in images)


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_defaults_are_safe(name):
    values = catalog.default_values(CHARTS, name)
    assert values["global"]["imageRegistry"] == ""
    assert values.get("service", {}).get("type", "ClusterIP") == "ClusterIP"
    assert values["resources"]["requests"] and values["resources"]["limits"]
    if "persistence" in values:
        assert values["persistence"]["storageClass"] == ""


@pytest.mark.parametrize("name", FIRST_PARTY)
def test_default_values_validate_against_the_schema(name):
    import jsonschema  # pinned in requirements.txt; a missing one is an error, not a skip
    schema = catalog.values_schema(CHARTS, name)
    values = catalog.default_values(CHARTS, name)
    values["hx-common"] = {}
    jsonschema.validate(values, schema)
    bad = dict(values, unknownKey=1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_schemas_are_generated_and_up_to_date():
    rc = subprocess.call([sys.executable, os.path.join(CHARTS, "gen_schemas.py"), "--check"])
    assert rc == 0, "run python3 charts/gen_schemas.py (schemas and library links)"


def test_describe_lists_everything():
    items = dict((i["name"], i) for i in catalog.describe(CHARTS))
    assert set(items) == set(catalog.CATALOG)
    assert items["mlflow"]["depends_on"] == ["postgres", "minio"]
    assert items["grafana"]["depends_on"] == ["prometheus"]
    assert items["kubeflow_pipelines"]["chart"] == "kubeflow-pipelines"
    assert items["postgres"]["images"] == ["docker.io/library/postgres:16.4-bookworm"]
    assert items["torchserve"]["images"] == ["docker.io/pytorch/torchserve:0.12.0-cpu",
                                             "docker.io/curlimages/curl:8.10.1"]
    assert [i["name"] for i in catalog.describe(CHARTS, category="observability")] == ["grafana"]


def test_grafana_ships_the_serving_dashboard():
    with open(os.path.join(CHARTS, "grafana", "dashboards", "hx-serving.json")) as fh:
        dash = json.load(fh)
    assert dash["uid"] == "hx-serving"
    assert all(p["datasource"]["uid"] == "hx-prometheus" for p in dash["panels"])
    with open(os.path.join(CHARTS, "grafana", "templates", "configmap-provisioning.yaml")) as fh:
        assert "uid: hx-prometheus" in fh.read()


def test_yaml_is_available():
    assert catalog.HAS_YAML and yaml
