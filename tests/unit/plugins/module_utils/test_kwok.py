import pytest
import yaml

from ansible_collections.hx.mlops.plugins.module_utils import kwok


def test_create_argv_points_every_component_at_local_binaries():
    argv = kwok.create_argv("/t/kwokctl", "hx-vendor", "/t", 26441, "/s/kc", "90s", ["kube-apiserver=v=2"])
    assert argv == [
        "/t/kwokctl", "create", "cluster", "--name", "hx-vendor", "--runtime", "binary",
        "--kube-apiserver-port", "26441", "--kubeconfig", "/s/kc", "--wait", "90s",
        "--etcd-binary", "/t/etcd",
        "--kube-apiserver-binary", "/t/kube-apiserver",
        "--kube-controller-manager-binary", "/t/kube-controller-manager",
        "--kube-scheduler-binary", "/t/kube-scheduler",
        "--kwok-controller-binary", "/t/kwok",
        "--extra-args", "kube-apiserver=v=2",
    ]


def test_simple_argv():
    assert kwok.simple_argv("k", "start", "c", "5s") == ["k", "start", "cluster", "--name", "c", "--wait", "5s"]
    assert kwok.simple_argv("k", "delete", "c") == ["k", "delete", "cluster", "--name", "c"]


def test_rename_kubeconfig_renames_cluster_user_and_context():
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kwok-x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "kwok-x", "user": {"client-certificate": "/c"}}],
        "contexts": [{"name": "kwok-x", "context": {"cluster": "kwok-x", "user": "kwok-x"}}],
        "current-context": "kwok-x",
    }
    out = kwok.rename_kubeconfig(config, "hx-vendor")
    assert out["clusters"][0] == {"name": "hx-vendor", "cluster": {"server": "https://127.0.0.1:1"}}
    assert out["users"][0]["name"] == "hx-vendor"
    assert out["contexts"][0] == {"name": "hx-vendor", "context": {"cluster": "hx-vendor", "user": "hx-vendor"}}
    assert out["current-context"] == "hx-vendor"
    assert config["current-context"] == "kwok-x"  # input untouched


def test_rename_kubeconfig_refuses_ambiguous_input():
    with pytest.raises(ValueError, match="clusters"):
        kwok.rename_kubeconfig({"clusters": [], "users": [{}], "contexts": [{}]}, "x")


def test_pids_running_reads_pid_files(tmp_path):
    pids = tmp_path / "clusters" / "c" / "pids"
    pids.mkdir(parents=True)
    import os
    (pids / "etcd.pid").write_text(str(os.getpid()))
    (pids / "kube-apiserver.pid").write_text("999999999")
    state = kwok.pids_running(str(tmp_path), "c")
    assert state["etcd"] is True
    assert state["kube-apiserver"] is False
    assert state["kwok-controller"] is False


def test_apiserver_port_of_reads_the_kwokctl_configuration_document():
    # the shape kwokctl v0.7 writes: the configuration first, then its Stage documents
    text = (
        "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\nmetadata: {name: x}\n"
        "options: {etcdPort: 32760, kubeApiserverPort: 36442, runtime: binary}\n"
        "---\napiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata: {name: node-initialize}\n"
    )
    assert kwok.apiserver_port_of(yaml.safe_load_all(text)) == 36442
    assert kwok.apiserver_port_of(yaml.safe_load_all("kind: Stage\n---\n")) is None
