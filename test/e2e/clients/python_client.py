#!/usr/bin/env python3
# The client-library scenario with Python's generated `kubernetes` client (PyPI), driven by
# test/e2e/client-libraries.test.ts: one JSON line per step on stdout, which the tap test checks. The same scenario as
# the Node client in that test, so both can be held to the same expectations, and to what kube-apiserver answers the
# same client directly.
#
#   python3 python_client.py '{"kubeconfig": "...", "ns": "...", "nsNoExec": "...", "nsRefused": "...",
#                               "fieldManager": "...", "configMap": "...", "watched": "..."}'
#
# A step prints {"step": name, "ok": true, ...what it saw} or {"step": name, "ok": false, "code": HTTP status,
# "status": the Status body kube (or kgate) answered}. A step never stops the scenario: every step runs and prints.
import json
import queue
import sys
import threading
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

args = json.loads(sys.argv[1])
config.load_kube_config(config_file=args['kubeconfig'])
v1 = client.CoreV1Api()
ns, ns_no_exec, ns_refused = args['ns'], args['nsNoExec'], args['nsRefused']
cm_name, watched = args['configMap'], args['watched']


def emit(step, **fields):
    print(json.dumps({'step': step, **fields}, sort_keys=True), flush=True)


def status_of(e):
    """(HTTP code, Status body) from an ApiException. The WebSocket client (exec) raises one with status 0 and the
    handshake's response folded into `reason`: 'Handshake status 403 Forbidden -+-+- {headers} -+-+- body'."""
    if e.status == 0 and e.reason and e.reason.startswith('Handshake status '):
        code = int(e.reason.split(' ')[2])
        body = e.reason.split(' -+-+- ')[-1].strip()
        if body.startswith("b'") or body.startswith('b"'):
            body = body[2:-1]
        try:
            return code, json.loads(body)
        except ValueError:
            return code, body
    try:
        return e.status, json.loads(e.body) if e.body else None
    except ValueError:
        return e.status, e.body


def step(name):
    def run(fn):
        try:
            emit(name, ok=True, **(fn() or {}))
        except ApiException as e:
            code, body = status_of(e)
            emit(name, ok=False, code=code, status=body)
        except Exception as e:  # a client-side failure: reported, never hidden
            emit(name, ok=False, code=-1, error=f'{type(e).__name__}: {e}', trace=traceback.format_exc())
        return fn
    return run


def cm_view(cm):
    managers = sorted({m.manager for m in (cm.metadata.managed_fields or [])})
    return {'name': cm.metadata.name, 'data': cm.data or {}, 'labels': cm.metadata.labels or {}, 'managers': managers}


@step('list-namespaces')
def _():
    return {'names': sorted(n.metadata.name for n in v1.list_namespace().items)}


@step('list-pods')
def _():
    return {'names': sorted(p.metadata.name for p in v1.list_namespaced_pod(ns).items)}


@step('create-configmap')
def _():
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=cm_name), data={'a': '1'})
    return cm_view(v1.create_namespaced_config_map(ns, body))


@step('patch-strategic-merge')
def _():
    body = {'metadata': {'labels': {'patched': 'strategic'}}, 'data': {'b': '2'}}
    return cm_view(v1.patch_namespaced_config_map(cm_name, ns, body, _content_type='application/strategic-merge-patch+json'))


@step('patch-json-merge')
def _():
    body = {'data': {'a': None}}
    return cm_view(v1.patch_namespaced_config_map(cm_name, ns, body, _content_type='application/merge-patch+json'))


def applied(b):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': cm_name, 'namespace': ns}, 'data': {'b': b, 'c': '3'}}


@step('apply-conflict')
def _():
    # data.b belongs to the earlier patches' manager: applying another value without force is a 409 Conflict.
    return cm_view(v1.patch_namespaced_config_map(cm_name, ns, applied('20'), field_manager=args['fieldManager'], _content_type='application/apply-patch+yaml'))


@step('apply-force')
def _():
    return cm_view(v1.patch_namespaced_config_map(cm_name, ns, applied('20'), field_manager=args['fieldManager'], force=True, _content_type='application/apply-patch+yaml'))


@step('watch')
def _():
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    events = queue.Queue()
    w = watch.Watch()

    def consume():
        try:
            for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=60):
                events.put((ev['type'], ev['object'].metadata.name, dict(ev['object'].data or {})))
        except Exception as e:  # surfaces in the main thread as a missing event
            events.put(('ERROR', f'{type(e).__name__}: {e}', {}))
        events.put(('END', '', {}))

    threading.Thread(target=consume, daemon=True).start()
    seen = []

    def next_event_for(name):
        while True:
            ev = events.get(timeout=30)
            if ev[1] == name or ev[0] in ('ERROR', 'END'):
                seen.append(f'{ev[0]} {ev[1]}')
                return ev

    # The watch is open; the object is created after it started, and each event is awaited before the next change.
    v1.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=watched), data={'n': '1'}))
    added = next_event_for(watched)
    if added[0] == 'ADDED':
        v1.patch_namespaced_config_map(watched, ns, {'data': {'n': '2'}}, _content_type='application/merge-patch+json')
        modified = next_event_for(watched)
        if modified[0] == 'MODIFIED':
            seen[-1] += f" n={modified[2].get('n')}"
    w.stop()
    return {'events': seen}


@step('logs-pending')
def _():
    # A pod no node was assigned to: kube-apiserver answers 204 No Content.
    resp = v1.read_namespaced_pod_log('idle', ns, container='idle', _preload_content=False)
    return {'code': resp.status, 'text': resp.data.decode()}


@step('logs-bound-to-missing-node')
def _():
    return {'text': v1.read_namespaced_pod_log('bound', ns, container='main')}


@step('logs-unknown-container')
def _():
    return {'text': v1.read_namespaced_pod_log('idle', ns, container='nope')}


def run_exec(namespace):
    out = stream(v1.connect_get_namespaced_pod_exec, 'idle', namespace, command=['true'],
                 stderr=True, stdin=False, stdout=True, tty=False)
    return {'output': out}


@step('exec-pending')
def _():
    return run_exec(ns)


@step('exec-without-create')
def _():
    return run_exec(ns_no_exec)


@step('forbidden-list')
def _():
    return {'names': [c.metadata.name for c in v1.list_namespaced_config_map(ns_refused).items]}


@step('forbidden-create')
def _():
    return cm_view(v1.create_namespaced_config_map(ns_refused, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=cm_name))))


@step('cleanup')
def _():
    for name in (cm_name, watched):
        v1.delete_namespaced_config_map(name, ns)
    return {}
