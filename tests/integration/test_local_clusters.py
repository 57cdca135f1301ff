"""The local flavor: three real control planes with simulated nodes."""
import os
import textwrap
import time
import uuid

import pytest
import yaml

from conftest import DOMAINS, ROOT, Kubectl, explain, playbook, recap, require_tool, run


def ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_domain_has_ready_nodes_with_edge_arm64_workers(kubectl, domain):
    nodes = kubectl.json("hx-" + domain, "get", "nodes")["items"]
    assert nodes, "no nodes in hx-%s" % domain
    assert all(ready(n) for n in nodes), [n["metadata"]["name"] for n in nodes if not ready(n)]
    edge = [n for n in nodes if "node-role.kubernetes.io/edge" in n["metadata"]["labels"]]
    servers = [n for n in nodes if n not in edge]
    assert edge and servers
    for n in edge:
        assert n["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
        assert n["metadata"]["labels"]["hx.mlops/domain"] == domain
        assert {"key": "hx.mlops/edge", "value": "true", "effect": "NoSchedule"} in n["spec"]["taints"]
    for n in servers:
        assert n["metadata"]["labels"]["kubernetes.io/arch"] == "amd64"
        assert not n["spec"].get("taints")


def test_domains_are_isolated(kubectl):
    name = "isolation-%s" % uuid.uuid4().hex[:8]
    kubectl("hx-vendor", "create", "configmap", name, "--from-literal=owner=vendor")
    try:
        assert kubectl.json("hx-vendor", "get", "configmap", name)["data"] == {"owner": "vendor"}
        for other in ("hx-mno-staging", "hx-mno-prod"):
            proc = kubectl(other, "get", "configmap", name, check=False)
            assert proc.returncode != 0 and "NotFound" in proc.stderr
    finally:
        kubectl("hx-vendor", "delete", "configmap", name)


CHART = {
    "Chart.yaml": """
        apiVersion: v2
        name: probe
        version: 0.1.0
    """,
    "templates/all.yaml": """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: probe-data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: probe}
        spec:
          replicas: 2
          selector: {matchLabels: {app: probe}}
          template:
            metadata: {labels: {app: probe}}
            spec:
              containers:
                - name: app
                  image: docker.io/library/busybox:1.36
                  readinessProbe: {exec: {command: ["true"]}}
                  volumeMounts: [{name: data, mountPath: /data}]
              volumes:
                - name: data
                  persistentVolumeClaim: {claimName: probe-data}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: probe}
        spec:
          selector: {app: probe}
          ports: [{port: 80}]
    """,
}


def test_helm_chart_becomes_ready_with_a_bound_volume(kubectl, tmp_path):
    helm = require_tool("helm")
    chart = tmp_path / "probe"
    for rel, text in CHART.items():
        (chart / rel).parent.mkdir(parents=True, exist_ok=True)
        (chart / rel).write_text(textwrap.dedent(text))
    ns = "probe-%s" % uuid.uuid4().hex[:6]
    base = [helm, "--kubeconfig", kubectl.kubeconfig, "--kube-context", "hx-vendor", "-n", ns]
    run(base + ["upgrade", "--install", "probe", str(chart), "--create-namespace", "--wait", "--timeout", "120s"])
    try:
        pods = kubectl.json("hx-vendor", "-n", ns, "get", "pods", "-l", "app=probe")["items"]
        assert len(pods) == 2
        for pod in pods:
            assert pod["status"]["phase"] == "Running"
            assert any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])
            # untolerated pods never land on a tainted edge node
            assert not pod["spec"]["nodeName"].startswith("vendor-pi")
        pvc = kubectl.json("hx-vendor", "-n", ns, "get", "pvc", "probe-data")
        assert pvc["status"]["phase"] == "Bound"
        pv = kubectl.json("hx-vendor", "get", "pv", pvc["spec"]["volumeName"])
        path = pv["spec"]["hostPath"]["path"]
        assert os.path.isdir(path)
    finally:
        run(base + ["uninstall", "probe", "--wait", "--timeout", "60s"])
        kubectl("hx-vendor", "delete", "namespace", ns, "--wait=false")
    # the claim is gone, so the provisioner reclaims the volume and its directory
    deadline = time.time() + 60
    while time.time() < deadline and (os.path.isdir(path) or
                                      kubectl("hx-vendor", "get", "pv", pv["metadata"]["name"], check=False).returncode == 0):
        time.sleep(1)
    assert not os.path.isdir(path)
    assert kubectl("hx-vendor", "get", "pv", pv["metadata"]["name"], check=False).returncode != 0


def test_edge_pods_need_the_toleration(kubectl):
    ns = "edge-%s" % uuid.uuid4().hex[:6]
    kubectl("hx-mno-prod", "create", "namespace", ns)
    try:
        def pod(name, tolerate):
            spec = {"nodeSelector": {"kubernetes.io/arch": "arm64"},
                    "containers": [{"name": "c", "image": "docker.io/library/busybox:1.36"}]}
            if tolerate:
                spec["tolerations"] = [{"key": "hx.mlops/edge", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
            return yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec})
        kubectl("hx-mno-prod", "apply", "-f", "-", stdin=pod("tolerant", True))
        kubectl("hx-mno-prod", "apply", "-f", "-", stdin=pod("intolerant", False))
        kubectl("hx-mno-prod", "-n", ns, "wait", "--for=condition=Ready", "pod/tolerant", "--timeout=60s")
        tolerant = kubectl.json("hx-mno-prod", "-n", ns, "get", "pod", "tolerant")
        assert tolerant["spec"]["nodeName"].startswith("prod-pi-")
        time.sleep(3)
        intolerant = kubectl.json("hx-mno-prod", "-n", ns, "get", "pod", "intolerant")
        assert intolerant["status"]["phase"] == "Pending"
        assert "untolerated taint" in intolerant["status"]["conditions"][0]["message"]
    finally:
        kubectl("hx-mno-prod", "delete", "namespace", ns, "--wait=false")


def _processes_under(path):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = open("/proc/%s/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append((int(pid), cmdline.replace("\0", " ")[:200]))
    return found


def test_lifecycle_is_idempotent_and_teardown_leaves_nothing(tmp_path):
    """A scratch domain in its own inventory: up, up again (no change), stop, start, teardown."""
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"hx_domains": {
        "hosts": {"scratch": {"hx_domain": "scratch", "kwok_cluster_apiserver_port": 26449,
                              "kwok_cluster_nodes": [
                                  {"name": "scratch-server-1", "arch": "amd64", "role": "server"},
                                  {"name": "scratch-pi-1", "arch": "arm64", "role": "edge"}]}},
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}))
    for name in ("cluster.yml", "credentials.yml"):
        (inv / "group_vars" / "all" / name).write_text(
            open(os.path.join(ROOT, "inventories", "local", "group_vars", "all", name)).read())
    state = inv / ".state"
    try:
        first = recap(playbook("playbooks/cluster.yml", "-i", str(inv)).stdout)
        assert first["scratch"]["changed"] > 0 and first["scratch"]["failed"] == 0
        kube = Kubectl(str(state / "kubeconfig"))
        nodes = kube.json("hx-scratch", "get", "nodes")["items"]
        assert sorted(n["metadata"]["name"] for n in nodes) == ["scratch-pi-1", "scratch-server-1"]

        second = recap(playbook("playbooks/cluster.yml", "-i", str(inv)).stdout)
        assert second["scratch"]["changed"] == 0

        check = recap(playbook("playbooks/cluster.yml", "-i", str(inv), "-e", "kwok_cluster_state=stopped",
                               "--check").stdout)
        assert check["scratch"]["changed"] > 0
        assert kube("hx-scratch", "get", "--raw", "/readyz").stdout == "ok"  # check mode touched nothing

        playbook("playbooks/cluster.yml", "-i", str(inv), "-e", "kwok_cluster_state=stopped")
        assert _processes_under(state) == []
        assert (state / "kwok" / "clusters" / "hx-scratch" / "etcd").is_dir()  # data kept

        playbook("playbooks/cluster.yml", "-i", str(inv))
        assert len(kube.json("hx-scratch", "get", "nodes")["items"]) == 2  # etcd data survived the stop
    finally:
        down = playbook("playbooks/teardown.yml", "-i", str(inv), check=False)
    assert down.returncode == 0, explain(down)
    assert _processes_under(state) == []
    assert not state.exists()
