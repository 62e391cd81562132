/**
 * ku-k8s against a stand-in Kubernetes API server (no API server can be installed here). To show
 * that the stand-in speaks the real API, the real kubectl is pointed at it first; then the op runs
 * through hub and agent over mTLS.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cli, principal, startAgent, startHub, tmp, type HubCtx } from '../helpers/rig.js';
import { startKubeApi, type KubeApi } from '../rig/kube-api.js';

let api: KubeApi;
let kubeconfig: string;
let h: HubCtx;
let env: Record<string, string>;
const kubectl = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find(existsSync);

beforeAll(async () => {
  api = await startKubeApi();
  kubeconfig = api.kubeconfig(tmp('ku-kube-'));
  h = await startHub();
  await startAgent(h, {
    name: 'k8s-agent',
    ops: { 'k8s.unready-logs': { maxLogBytes: 4096 } },
    extra: { kubernetes: { kubeconfig, namespaces: ['shop', 'staging-*'] } },
  });
  env = { KU_HUB: h.addr, KU_IDENTITY: await principal(h, 'admin', 'sre-bot') };
});

afterAll(async () => {
  await cleanup();
  await api.close();
});

/** kubectl, asynchronously: the stand-in server lives in this process and must keep answering. */
function run(argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(kubectl!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const k = (...args: string[]) => run(['--kubeconfig', kubeconfig, ...args]);

describe('the stand-in API server speaks the real API', () => {
  it('kubectl is installed (kubernetes-client, or a kubectl already on the machine)', () => {
    expect(kubectl, 'no kubectl on this machine: .ci/run installs kubernetes-client').toBeDefined();
  });

  it('kubectl get deploy,rs,pods works against it', async () => {
    const r = await k('get', 'deploy,rs,pods', '-n', 'shop');
    expect(r.status, r.stderr).toBe(0);
    for (const name of ['web', 'web-new', 'web-old', 'web-new-aaaaa', 'web-new-bbbbb', 'web-new-ccccc']) expect(r.stdout).toContain(name);
    const json = await k('get', 'pods', '-n', 'shop', '-o', 'json');
    expect(JSON.parse(json.stdout).items).toHaveLength(4);
  });

  it('kubectl logs --previous works against it', async () => {
    const r = await k('logs', '--previous', 'web-new-bbbbb', '-c', 'app', '-n', 'shop');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('panic: dial tcp db:5432: connection refused');
    const cur = await k('logs', 'web-new-bbbbb', '-n', 'shop');
    expect(cur.stdout).toBe('starting web 2\n');
  });

  it('it refuses a caller without the token, as the real API does', async () => {
    const r = await run(['--kubeconfig', api.kubeconfig(tmp('ku-kube-'), 'not-the-token'), 'get', 'pods', '-n', 'shop']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Unauthorized|provide credentials/i);
  });
});

async function kuk8s(...args: string[]) {
  const r = await cli('ku-k8s', [...args, '--json'], env);
  return { code: r.code, out: JSON.parse(r.stdout.trim().split('\n').at(-1)!) };
}

describe('ku-k8s get-unready-logs through hub and agent', () => {
  it('finds the unready pods of the current ReplicaSet, with reasons, events and the crashed container\'s previous log', async () => {
    const r = await kuk8s('get-unready-logs', 'web', '--namespace', 'shop', '--tail', '50');
    expect(r.code).toBe(0);
    const d = r.out.data;
    expect(d).toMatchObject({ deployment: 'web', namespace: 'shop', replicaSet: 'web-new', totalPods: 3, readyPods: 1 });
    expect(d.pods.map((p: { pod: string }) => p.pod).sort()).toEqual(['web-new-bbbbb', 'web-new-ccccc']); // ready pod and old RS left out
    const crash = d.pods.find((p: { pod: string }) => p.pod === 'web-new-bbbbb');
    expect(crash.containers[0]).toMatchObject({ container: 'app', state: 'waiting', reason: 'CrashLoopBackOff', restartCount: 7, lastExitCode: 1, lastReason: 'Error', log: { previous: true, truncated: false } });
    expect(crash.containers[0].log.text).toContain('panic: dial tcp db:5432: connection refused');
    expect(crash.events[0]).toMatchObject({ type: 'Warning', reason: 'BackOff', count: 31 });
    const oom = d.pods.find((p: { pod: string }) => p.pod === 'web-new-ccccc');
    expect(oom.containers[0]).toMatchObject({ lastExitCode: 137, lastReason: 'OOMKilled', restartCount: 2 });
  });

  it('caps log bytes per container with a truncation marker, keeping the end', async () => {
    const r = await kuk8s('get-unready-logs', 'web', '--namespace', 'shop', '--tail', '10000');
    const oom = r.out.data.pods.find((p: { pod: string }) => p.pod === 'web-new-ccccc');
    expect(oom.containers[0].log.truncated).toBe(true);
    expect(oom.containers[0].log.bytes).toBe(4096);
    expect(oom.containers[0].log.text).toMatch(/^\[truncated: only the last 4096 bytes\]\n/);
    expect(oom.containers[0].log.text).toMatch(/fatal: out of memory\n$/);
  });

  it('refuses a namespace outside the allowlist before any API call, and names a missing deployment', async () => {
    const before = api.requests.length;
    const denied = await kuk8s('get-unready-logs', 'web', '--namespace', 'kube-system');
    expect(denied.out.error.code).toBe('KU_ERR_K8S_NAMESPACE_NOT_ALLOWED');
    expect(denied.code).toBe(3);
    expect(api.requests.length).toBe(before);
    const missing = await kuk8s('get-unready-logs', 'nope', '--namespace', 'shop');
    expect(missing.out.error.code).toBe('KU_ERR_K8S_NOT_FOUND');
    expect(missing.code).toBe(1);
    const bad = await kuk8s('get-unready-logs', 'Web;rm', '--namespace', 'shop');
    expect(bad.out.error.code).toBe('KU_ERR_INVALID_PARAMS');
  });
});
