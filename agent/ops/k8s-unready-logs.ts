/**
 * k8s.unready-logs: the deployment's current ReplicaSet, its pods that are not Ready, and for
 * each container that is not ready or restarting: why, its events, and its log tail (the previous
 * container's log when it crashed: that is what explains a crash loop). Read-only, through
 * @kubernetes/client-node with the agent's own credentials; namespaces from the agent's allowlist.
 */
import { z } from 'zod';
import { k8sUnreadyLogs } from '../../proto/catalogue/k8s-ops.js';
import { KuError } from '../../proto/errors.js';
import { globRegExp } from '../../runtime/glob.js';
import { implement } from './types.js';

type K8s = typeof import('@kubernetes/client-node');

const limits = z
  .object({
    maxLogBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024).describe('log bytes kept per container (the end is kept)'),
    maxPods: z.number().int().min(1).max(500).default(50).describe('unready pods reported per call'),
    maxEvents: z.number().int().min(0).max(100).default(10).describe('events per pod'),
  })
  .strict();

function apiError(e: unknown, what: string): KuError {
  if (e instanceof KuError) return e;
  const code = (e as { code?: number }).code;
  const body = (e as { body?: unknown }).body;
  const msg = typeof body === 'string' ? body.slice(0, 300) : (e as Error).message;
  if (code === 404) return new KuError('KU_ERR_K8S_NOT_FOUND', `${what}: not found`);
  if (code === 401 || code === 403) return new KuError('KU_ERR_K8S_UNAVAILABLE', `${what}: the Kubernetes API refused the agent (${code}): ${msg}`);
  if (!code) return new KuError('KU_ERR_K8S_UNAVAILABLE', `${what}: ${msg}`);
  return new KuError('KU_ERR_K8S_FAILED', `${what}: HTTP ${code}: ${msg}`);
}

export default implement({
  spec: k8sUnreadyLogs,
  limits,
  async run(params, ctx) {
    const kube = ctx.host.kubernetes;
    if (!kube) throw new KuError('KU_ERR_OP_NOT_ALLOWED', 'this agent has no kubernetes section in its config');
    if (!kube.namespaces.some((g) => globRegExp(g).test(params.namespace))) {
      throw new KuError('KU_ERR_K8S_NAMESPACE_NOT_ALLOWED', `namespace ${params.namespace} is not in this agent's allowlist`, { allowed: kube.namespaces });
    }
    const k: K8s = await import('@kubernetes/client-node');
    const kc = new k.KubeConfig();
    try {
      if (kube.kubeconfig) kc.loadFromFile(kube.kubeconfig);
      else kc.loadFromCluster();
    } catch (e) {
      throw new KuError('KU_ERR_K8S_UNAVAILABLE', `cannot load Kubernetes credentials: ${(e as Error).message}`);
    }
    const apps = kc.makeApiClient(k.AppsV1Api);
    const core = kc.makeApiClient(k.CoreV1Api);
    const ns = params.namespace;
    const dep = await apps.readNamespacedDeployment({ name: params.deployment, namespace: ns }).catch((e) => {
      throw apiError(e, `deployment ${ns}/${params.deployment}`);
    });
    const sel = Object.entries(dep.spec?.selector?.matchLabels ?? {}).map(([a, b]) => `${a}=${b}`).join(',');
    const rsList = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: sel }).catch((e) => {
      throw apiError(e, 'replicasets');
    });
    const rev = (o: { metadata?: { annotations?: Record<string, string> } }) => Number(o.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0);
    const owned = rsList.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === dep.metadata?.uid));
    const current = owned.sort((a, b) => rev(b) - rev(a))[0];
    const podList = await core.listNamespacedPod({ namespace: ns, labelSelector: sel }).catch((e) => {
      throw apiError(e, 'pods');
    });
    const pods = podList.items.filter((p) => current && p.metadata?.ownerReferences?.some((o) => o.uid === current.metadata?.uid));
    const isReady = (p: (typeof pods)[number]) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const unready = pods.filter((p) => !isReady(p)).slice(0, ctx.limits.maxPods);
    const out = [];
    for (const p of unready) {
      ctx.signal.throwIfAborted();
      const name = p.metadata!.name!;
      const containers = [];
      for (const cs of p.status?.containerStatuses ?? []) {
        if (cs.ready && !cs.restartCount) continue;
        const st = cs.state?.waiting ? 'waiting' : cs.state?.running ? 'running' : cs.state?.terminated ? 'terminated' : 'unknown';
        const term = cs.lastState?.terminated;
        const crashed = !!term && (st === 'waiting' || st === 'terminated' || !cs.ready);
        const previous = cs.restartCount > 0 && (params.previous || crashed);
        // The API applies tailLines, then limitBytes from the start of those lines; to keep the
        // end of a long log, fetch a bounded window and narrow the tail until it fits.
        let text = '';
        const cap = ctx.limits.maxLogBytes * 4;
        try {
          for (let lines = params.tail, i = 0; i < 8; i++, lines = Math.max(1, Math.floor(lines / 2))) {
            text = await core.readNamespacedPodLog({ name, namespace: ns, container: cs.name, previous, tailLines: lines, limitBytes: cap });
            if (Buffer.byteLength(text) < cap || lines === 1) break;
          }
        } catch (e) {
          text = `[no log: ${apiError(e, 'log').message}]`;
        }
        const bytes = Buffer.byteLength(text);
        const truncated = bytes > ctx.limits.maxLogBytes;
        if (truncated) text = `[truncated: only the last ${ctx.limits.maxLogBytes} bytes]\n${Buffer.from(text).subarray(bytes - ctx.limits.maxLogBytes).toString('utf8')}`;
        containers.push({
          container: cs.name,
          ready: cs.ready,
          restartCount: cs.restartCount,
          state: st as 'waiting' | 'running' | 'terminated' | 'unknown',
          reason: cs.state?.waiting?.reason ?? cs.state?.terminated?.reason ?? null,
          message: cs.state?.waiting?.message ?? cs.state?.terminated?.message ?? null,
          lastExitCode: term?.exitCode ?? null,
          lastReason: term?.reason ?? null,
          log: { previous, text, bytes: Math.min(bytes, ctx.limits.maxLogBytes), truncated },
        });
      }
      const ev = await core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` }).catch(() => ({ items: [] as never[] }));
      const events = ev.items
        .map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '', count: e.count ?? 1, lastSeen: e.lastTimestamp ? new Date(e.lastTimestamp).toISOString() : null }))
        .slice(-ctx.limits.maxEvents);
      out.push({ pod: name, phase: p.status?.phase ?? 'Unknown', node: p.spec?.nodeName ?? null, containers, events });
    }
    return {
      deployment: params.deployment,
      namespace: ns,
      replicaSet: current?.metadata?.name ?? null,
      totalPods: pods.length,
      readyPods: pods.filter(isReady).length,
      pods: out,
    };
  },
});
