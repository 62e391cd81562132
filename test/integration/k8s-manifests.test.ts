/** deploy/k8s: the roles are read-only, never touch secrets, and the agent's role is the narrow one. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/rig.js';

const docs = (f: string) => parseAllDocuments(readFileSync(join(ROOT, 'deploy/k8s', f), 'utf8')).map((d) => d.toJS() as Record<string, any>);
const rulesOf = (f: string, kind: string) => docs(f).filter((d) => d.kind === kind).flatMap((d) => d.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]);

describe('deploy/k8s', () => {
  it('mcp-readonly: get, list and watch only, no secrets, no exec', () => {
    const rules = rulesOf('mcp-readonly.yaml', 'ClusterRole');
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.verbs.every((v) => ['get', 'list', 'watch'].includes(v))).toBe(true);
      expect(r.resources).not.toContain('secrets');
      expect(r.resources.some((x) => x.includes('exec') || x.includes('portforward') || x === '*')).toBe(false);
    }
    expect(docs('mcp-readonly.yaml').find((d) => d.kind === 'ClusterRoleBinding')?.roleRef.name).toBe('mcp-readonly');
  });

  it('the agent Role: get and list of exactly pods, pods/log, events, deployments, replicasets', () => {
    const rules = rulesOf('ku-agent-rbac.yaml', 'Role');
    const granted = rules.flatMap((r) => r.resources.map((x) => `${r.apiGroups[0] || 'core'}/${x}:${[...r.verbs].sort().join(',')}`)).sort();
    expect(granted).toEqual(['apps/deployments:get,list', 'apps/replicasets:get,list', 'core/events:get,list', 'core/pods/log:get,list', 'core/pods:get,list']);
  });

  it('the agent Deployment runs as non-root, with its service account and the allowlisted namespaces', () => {
    const dep = docs('ku-agent-deployment.yaml').find((d) => d.kind === 'Deployment')!;
    expect(dep.spec.template.spec.serviceAccountName).toBe('ku-agent');
    expect(dep.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    const cfg = JSON.parse(docs('ku-agent-deployment.yaml').find((d) => d.kind === 'ConfigMap')!.data['agent.json']);
    expect(cfg.kubernetes.namespaces).toEqual(['shop']);
  });
});
