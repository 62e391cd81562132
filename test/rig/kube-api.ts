/**
 * A stand-in Kubernetes API server for tests: HTTPS with a bearer token, answering the few paths
 * ku and kubectl use (discovery, deployments, replicasets, pods, pod logs, events) with JSON in
 * the real API's shapes. A deployment "web" in namespace "shop": its current ReplicaSet has a
 * Ready pod, a pod in CrashLoopBackOff and a pod whose container was OOMKilled; an older
 * ReplicaSet still has an unready pod that must be left out.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueWithNewKey } from '../../runtime/pki.js';

export const TOKEN = 'ku-test-token';
const T = '2026-12-01T10:00:00Z';
const DEP_UID = 'dep-uid-1';
const RS_NEW = 'rs-uid-new';
const RS_OLD = 'rs-uid-old';

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'shop', uid: `${name}-uid`, creationTimestamp: T, resourceVersion: '1', ...extra });

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { ...meta('web'), uid: DEP_UID, annotations: { 'deployment.kubernetes.io/revision': '2' }, labels: { app: 'web' } },
  spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'shop/web:2' }] } } },
  status: { replicas: 3, readyReplicas: 1, availableReplicas: 1, unavailableReplicas: 2, updatedReplicas: 3, observedGeneration: 2 },
};

const rs = (name: string, uid: string, rev: string, replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { ...meta(name), uid, labels: { app: 'web' }, annotations: { 'deployment.kubernetes.io/revision': rev }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: DEP_UID, controller: true }] },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: deployment.spec.template },
  status: { replicas, readyReplicas: name.endsWith('new') ? 1 : 0, availableReplicas: 0, fullyLabeledReplicas: replicas, observedGeneration: 1 },
});

type CS = Record<string, unknown>;
const pod = (name: string, rsName: string, rsUid: string, ready: boolean, cs: CS) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { ...meta(name), labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rsName, uid: rsUid, controller: true }] },
  spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'shop/web:2' }] },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: T }],
    containerStatuses: [{ name: 'app', image: 'shop/web:2', imageID: '', ready, started: ready, ...cs }],
    startTime: T,
  },
});

export const PODS = {
  ready: pod('web-new-aaaaa', 'web-new', RS_NEW, true, { restartCount: 0, state: { running: { startedAt: T } }, lastState: {} }),
  crash: pod('web-new-bbbbb', 'web-new', RS_NEW, false, {
    restartCount: 7,
    state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container=app' } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: T, finishedAt: T } },
  }),
  oom: pod('web-new-ccccc', 'web-new', RS_NEW, false, {
    restartCount: 2,
    state: { running: { startedAt: T } },
    lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: T, finishedAt: T } },
  }),
  old: pod('web-old-zzzzz', 'web-old', RS_OLD, false, { restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff' } }, lastState: {} }),
};

export const LOGS: Record<string, { current: string; previous: string }> = {
  'web-new-bbbbb': { current: 'starting web 2\n', previous: 'starting web 2\nconnecting to db at db:5432\npanic: dial tcp db:5432: connection refused\n' },
  'web-new-ccccc': { current: 'starting web 2\nwarming cache\n', previous: `${'loading catalogue item\n'.repeat(20000)}fatal: out of memory\n` },
  'web-new-aaaaa': { current: 'serving\n', previous: '' },
};

const EVENTS: Record<string, { type: string; reason: string; message: string; count: number }[]> = {
  'web-new-bbbbb': [{ type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container app in pod web-new-bbbbb', count: 31 }],
  'web-new-ccccc': [{ type: 'Warning', reason: 'OOMKilling', message: 'Memory cgroup out of memory: Killed process 4242 (web)', count: 2 }],
};

const list = (kind: string, apiVersion: string, items: unknown[]) => ({ apiVersion, kind, metadata: { resourceVersion: '1' }, items });

const resources = (group: string, rs: [string, string, boolean, string[]][]) => ({
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: group,
  resources: rs.map(([name, kind, namespaced, shortNames]) => ({ name, singularName: name.includes('/') ? '' : kind.toLowerCase(), namespaced, kind, verbs: ['get', 'list', 'watch'], ...(shortNames.length ? { shortNames } : {}) })),
});

function route(path: string, q: URLSearchParams): { status: number; body: unknown; text?: string } {
  const sel = q.get('labelSelector');
  const matchApp = (o: { metadata: { labels?: Record<string, string> } }) => !sel || sel.split(',').every((t) => { const [k, v] = t.split('='); return o.metadata.labels?.[k!] === v; });
  const pods = Object.values(PODS).filter(matchApp);
  let m: RegExpExecArray | null;
  if (path === '/version') return { status: 200, body: { major: '1', minor: '30', gitVersion: 'v1.30.0-ku-test', platform: 'linux/amd64' } };
  if (path === '/api') return { status: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] } };
  if (path === '/apis') return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }] } };
  if (path === '/api/v1') return { status: 200, body: resources('v1', [['pods', 'Pod', true, ['po']], ['pods/log', 'Pod', true, []], ['events', 'Event', true, ['ev']], ['namespaces', 'Namespace', false, ['ns']]]) };
  if (path === '/apis/apps/v1') return { status: 200, body: resources('apps/v1', [['deployments', 'Deployment', true, ['deploy']], ['replicasets', 'ReplicaSet', true, ['rs']]]) };
  if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments(?:\/([^/]+))?$/.exec(path))) {
    if (m[1] !== 'shop') return m[2] ? notFound('deployments', m[2]) : { status: 200, body: list('DeploymentList', 'apps/v1', []) };
    if (!m[2]) return { status: 200, body: list('DeploymentList', 'apps/v1', [deployment]) };
    return m[2] === 'web' ? { status: 200, body: deployment } : notFound('deployments', m[2]);
  }
  if ((m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets$/.exec(path))) {
    return { status: 200, body: list('ReplicaSetList', 'apps/v1', m[1] === 'shop' ? [rs('web-new', RS_NEW, '2', 3), rs('web-old', RS_OLD, '1', 1)] : []) };
  }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path))) return { status: 200, body: list('PodList', 'v1', m[1] === 'shop' ? pods : []) };
  if ((m = /^\/api\/v1\/namespaces\/shop\/pods\/([^/]+)$/.exec(path))) {
    const p = Object.values(PODS).find((x) => x.metadata.name === m![1]);
    return p ? { status: 200, body: p } : notFound('pods', m[1]!);
  }
  if ((m = /^\/api\/v1\/namespaces\/shop\/pods\/([^/]+)\/log$/.exec(path))) {
    const l = LOGS[m[1]!];
    if (!l) return notFound('pods', m[1]!);
    let text = q.get('previous') === 'true' ? l.previous : l.current;
    const tail = Number(q.get('tailLines') ?? 0);
    if (tail) text = text.split('\n').filter((x, i, a) => x || i < a.length - 1).slice(-tail).join('\n') + '\n';
    const limit = Number(q.get('limitBytes') ?? 0);
    if (limit) text = Buffer.from(text).subarray(0, limit).toString('utf8');
    return { status: 200, body: null, text };
  }
  if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path))) {
    const name = /involvedObject\.name=([^,]+)/.exec(q.get('fieldSelector') ?? '')?.[1];
    const items = (name ? EVENTS[name] ?? [] : []).map((e, i) => ({ apiVersion: 'v1', kind: 'Event', metadata: meta(`${name}.${i}`), involvedObject: { kind: 'Pod', name, namespace: 'shop' }, ...e, firstTimestamp: T, lastTimestamp: T, source: { component: 'kubelet' } }));
    return { status: 200, body: list('EventList', 'v1', items) };
  }
  return { status: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `the server could not find the requested resource (${path})`, reason: 'NotFound', code: 404 } };
}

function notFound(kind: string, name: string) {
  return { status: 404, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `${kind} "${name}" not found`, reason: 'NotFound', details: { name, kind }, code: 404 } };
}

export interface KubeApi {
  url: string;
  caPem: string;
  /** A kubeconfig for this server, written to `dir` (with another token to test refusals). */
  kubeconfig(dir: string, token?: string): string;
  requests: string[];
  close(): Promise<void>;
}

export async function startKubeApi(): Promise<KubeApi> {
  const ca = await createCa('ku test kube-apiserver CA', 86_400_000);
  const cert = await issueWithNewKey({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, kind: 'hub', name: 'kube-apiserver', ttlMs: 86_400_000, ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  const requests: string[] = [];
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem + ca.certPem }, (req, res) => {
    const u = new URL(req.url ?? '/', 'https://x');
    requests.push(`${req.method} ${u.pathname}${u.search}`);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
      return;
    }
    const r = route(u.pathname, u.searchParams);
    if (r.text !== undefined) res.writeHead(r.status, { 'content-type': 'text/plain' }).end(r.text);
    else res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    caPem: ca.certPem,
    requests,
    kubeconfig(dir, token = TOKEN) {
      const path = join(dir, token === TOKEN ? 'kubeconfig' : 'kubeconfig-other');
      writeFileSync(
        path,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'test', cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
          users: [{ name: 'ku-agent', user: { token } }],
          contexts: [{ name: 'test', context: { cluster: 'test', user: 'ku-agent', namespace: 'shop' } }],
          'current-context': 'test',
        }),
      );
      return path;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
