/**
 * Role policy: which principal role may run which operations on which hosts.
 * Default deny: a call is allowed only if some rule of the principal's role
 * matches the op, the target's labels and (for read-only rules) the op's
 * `mutates` flag.
 *
 *   { "roles": { "reader": [ { "ops": ["*"], "readOnly": true } ],
 *                "web-operator": [ { "ops": ["sys.*", "diag.*"], "hosts": "role=web" } ] } }
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KuError } from '../proto/errors.js';
import type { OpSpec } from '../proto/op-spec.js';
import { globRegExp } from '../runtime/glob.js';
import { matches, parseSelector, type Labels, type Selector } from '../runtime/selector.js';
import { formatIssues } from './config.js';

const RuleSchema = z
  .object({
    ops: z.array(z.string().regex(/^[a-z0-9.*-]+$/)).min(1).describe('op names or globs such as "diag.*" or "*"'),
    hosts: z.string().optional().describe('label selector of hosts this rule covers; all hosts when absent'),
    readOnly: z.boolean().default(false).describe('when true, only ops that do not mutate'),
    maxTargets: z.number().int().min(1).optional().describe('largest fan-out (targets in one call) this rule allows'),
  })
  .strict();

export const RolesFileSchema = z.object({ roles: z.record(z.string(), z.array(RuleSchema)) }).strict();
export type RolesFile = z.output<typeof RolesFileSchema>;

/** What `ku-hub init` writes: admin may do everything, reader only reads. */
export const DEFAULT_ROLES: RolesFile = {
  roles: {
    admin: [{ ops: ['*'], readOnly: false }],
    reader: [{ ops: ['*'], readOnly: true }],
  },
};

interface CompiledRule {
  ops: RegExp[];
  hosts: Selector | null;
  readOnly: boolean;
  maxTargets: number | null;
}

/** A parsed, compiled roles file. */
export class Policy {
  private constructor(private readonly roles: Map<string, CompiledRule[]>) {}

  static parse(raw: unknown, where = 'roles'): Policy {
    const r = RolesFileSchema.safeParse(raw);
    if (!r.success) throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: ${formatIssues(r.error.issues)}`);
    const roles = new Map<string, CompiledRule[]>();
    for (const [name, rules] of Object.entries(r.data.roles)) {
      roles.set(
        name,
        rules.map((rule, i) => {
          let hosts: Selector | null = null;
          if (rule.hosts !== undefined) {
            try {
              hosts = parseSelector(rule.hosts);
            } catch (e) {
              throw new KuError('KU_ERR_CONFIG_INVALID', `${where}: roles.${name}.${i}.hosts: ${(e as Error).message}`);
            }
          }
          return { ops: rule.ops.map((g) => globRegExp(g)), hosts, readOnly: rule.readOnly, maxTargets: rule.maxTargets ?? null };
        }),
      );
    }
    return new Policy(roles);
  }

  static load(path: string): Policy {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new KuError('KU_ERR_CONFIG_INVALID', `${path}: ${(e as Error).message}`);
    }
    return Policy.parse(raw, path);
  }

  hasRole(role: string): boolean {
    return this.roles.has(role);
  }

  /** Throws KU_ERR_POLICY_DENIED when the call's fan-out exceeds the smallest cap of the role's rules for this op. */
  checkFanout(role: string, spec: OpSpec, targets: number): void {
    const caps = (this.roles.get(role) ?? []).filter((r) => r.ops.some((re) => re.test(spec.name)) && r.maxTargets !== null).map((r) => r.maxTargets!);
    if (caps.length && targets > Math.min(...caps)) {
      throw new KuError('KU_ERR_POLICY_DENIED', `role ${JSON.stringify(role)} may run ${spec.name} on at most ${Math.min(...caps)} targets at once; this call has ${targets}`, { role, targets, cap: Math.min(...caps) });
    }
  }

  /** Throws KU_ERR_POLICY_DENIED unless the role may run the op on a host with these labels. */
  authorize(role: string, spec: OpSpec, host: string, labels: Labels): void {
    const rules = this.roles.get(role);
    const ok = rules?.some(
      (r) => r.ops.some((re) => re.test(spec.name)) && (!r.readOnly || !spec.mutates) && (r.hosts === null || matches(r.hosts, labels)),
    );
    if (!ok) throw new KuError('KU_ERR_POLICY_DENIED', `role ${JSON.stringify(role)} may not run ${spec.name} on ${host}`, { role, op: spec.name, host });
  }
}
