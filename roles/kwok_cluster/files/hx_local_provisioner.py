# Copyright: HX-MLOps contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small dynamic PV provisioner for the local (kwok) flavor.

It follows the external-provisioner protocol: for every PVC whose StorageClass
names our provisioner and that is not bound yet, it creates a hostPath PV
pre-bound to the claim (``claimRef``); kube-controller-manager's PV controller
then binds the pair and the claim becomes Bound. When a claim is deleted, the
PV turns Released and, with reclaim policy Delete, the provisioner deletes it
and its directory.

Usage: hx_local_provisioner.py --kubeconfig FILE --context CTX --root DIR
"""
import argparse
import logging
import os
import shutil
import signal
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException

PROVISIONER = "hx.mlops/local"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = ("volume.kubernetes.io/storage-provisioner", "volume.beta.kubernetes.io/storage-provisioner")

log = logging.getLogger("hx-local-provisioner")


def our_classes(storage):
    return {
        sc.metadata.name: sc
        for sc in storage.list_storage_class().items
        if sc.provisioner == PROVISIONER
    }


def claim_class(pvc, classes):
    name = pvc.spec.storage_class_name
    if name is None:  # the admission plugin fills it with the default class; be safe
        defaults = [n for n, sc in classes.items()
                    if (sc.metadata.annotations or {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
        name = defaults[0] if defaults else None
    return classes.get(name) if name else None


def provision(core, pvc, sc, root):
    pv_name = "pvc-%s" % pvc.metadata.uid
    path = os.path.join(root, "%s_%s_%s" % (pvc.metadata.namespace, pvc.metadata.name, pv_name))
    os.makedirs(path, 0o777, exist_ok=True)
    os.chmod(path, 0o777)  # noqa: S103 - any non-root pod user must write, as with hostpath provisioners
    pv = client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(name=pv_name, annotations={ANN_PROVISIONED_BY: PROVISIONER}),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": pvc.spec.resources.requests["storage"]},
            access_modes=pvc.spec.access_modes,
            persistent_volume_reclaim_policy=sc.reclaim_policy or "Delete",
            storage_class_name=sc.metadata.name,
            volume_mode=pvc.spec.volume_mode or "Filesystem",
            host_path=client.V1HostPathVolumeSource(path=path, type="DirectoryOrCreate"),
            claim_ref=client.V1ObjectReference(
                kind="PersistentVolumeClaim", api_version="v1",
                namespace=pvc.metadata.namespace, name=pvc.metadata.name, uid=pvc.metadata.uid,
            ),
        ),
    )
    try:
        core.create_persistent_volume(pv)
        log.info("provisioned %s for %s/%s at %s", pv_name, pvc.metadata.namespace, pvc.metadata.name, path)
    except ApiException as e:
        if e.status != 409:
            raise


def reclaim(core, pv):
    path = pv.spec.host_path.path if pv.spec.host_path else None
    try:
        core.delete_persistent_volume(pv.metadata.name)
    except ApiException as e:
        if e.status != 404:
            raise
    if path and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    log.info("deleted released volume %s", pv.metadata.name)


def reconcile(core, storage, root):
    classes = our_classes(storage)
    pvs = core.list_persistent_volume().items
    existing = {pv.metadata.name for pv in pvs}
    for pvc in core.list_persistent_volume_claim_for_all_namespaces().items:
        if pvc.status.phase != "Pending" or pvc.spec.volume_name or pvc.metadata.deletion_timestamp:
            continue
        sc = claim_class(pvc, classes)
        if sc is None:
            continue
        if "pvc-%s" % pvc.metadata.uid not in existing:
            provision(core, pvc, sc, root)
    for pv in pvs:
        ann = pv.metadata.annotations or {}
        if (ann.get(ANN_PROVISIONED_BY) == PROVISIONER and pv.status.phase in ("Released", "Failed")
                and pv.spec.persistent_volume_reclaim_policy == "Delete"):
            reclaim(core, pv)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context", required=True)
    parser.add_argument("--root", required=True, help="directory that holds the volumes")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.makedirs(args.root, 0o755, exist_ok=True)
    config.load_kube_config(config_file=args.kubeconfig, context=args.context)
    core, storage = client.CoreV1Api(), client.StorageV1Api()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    log.info("watching claims for provisioner %s, volumes under %s", PROVISIONER, args.root)
    while not stop:
        try:
            reconcile(core, storage, args.root)
        except Exception as e:  # the API server restarts; keep going
            log.warning("reconcile failed: %s", e)
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
