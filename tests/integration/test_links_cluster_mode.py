"""links_mode=cluster (real clusters) deployed to a local domain: charts, Secrets, idempotence.

The pods are simulated in the local flavor, so this proves the rendering, the
wiring (Secrets, NodePorts, client registration by Secret reference) and the
idempotence of the cluster path, not a request served by those pods."""
import json

from conftest import explain, playbook, recap

EXTRA = ["-e", "links_mode=cluster", "-e", json.dumps({"links_node_ports": {"model": 30080, "dataset": 30081}})]


def test_cluster_mode_deploys_the_apis_with_tokens_only_in_secrets(kubectl):
    try:
        first = recap(playbook("playbooks/links.yml", "-i", "inventories/local", "--limit", "vendor", *EXTRA).stdout)
        assert first["vendor"]["failed"] == 0 and first["vendor"]["changed"] > 0
        again = recap(playbook("playbooks/links.yml", "-i", "inventories/local", "--limit", "vendor", *EXTRA).stdout)
        assert again["vendor"]["changed"] == 0

        svc = kubectl.json("hx-vendor", "-n", "hx-links", "get", "service")["items"]
        node_ports = sorted(p["nodePort"] for s in svc if s["spec"]["type"] == "NodePort" for p in s["spec"]["ports"])
        assert node_ports == [30080, 30081]
        deployments = kubectl.json("hx-vendor", "-n", "hx-links", "get", "deployment")["items"]
        assert len(deployments) == 2
        assert all(d["status"].get("readyReplicas") == d["spec"]["replicas"] for d in deployments)
        secrets = {s["metadata"]["name"] for s in kubectl.json("hx-vendor", "-n", "hx-links", "get", "secret")["items"]}
        assert {"hx-sharing-config", "hx-client-vendor", "hx-client-mno-staging"} <= secrets
        # tokens reach the containers through secretKeyRef, never as literal values or arguments
        tokens = {kubectl.json("hx-vendor", "-n", "hx-links", "get", "secret", name)["data"]["token"]
                  for name in ("hx-client-vendor", "hx-client-mno-staging")}
        dump = kubectl("hx-vendor", "-n", "hx-links", "get", "deployment", "-o", "json").stdout
        import base64
        assert not any(base64.b64decode(t).decode() in dump for t in tokens)
    finally:
        down = playbook("playbooks/links.yml", "-i", "inventories/local", "--limit", "vendor", *EXTRA,
                        "-e", "links_state=absent", check=False)
        assert down.returncode == 0, explain(down)
