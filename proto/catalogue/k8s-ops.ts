/** The ku-k8s operation family: read-only diagnosis of a deployment's unready pods. */
import { z } from 'zod';
import { defineOp } from '../op-spec.js';

const dns1123 = (max: number) =>
  z.string().min(1).max(max).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes name: lowercase letters, digits, "-" and "."');

/** `ku-k8s get-unready-logs DEPLOYMENT [--namespace NS] [--tail N] [--previous]` */
export const k8sUnreadyLogs = defineOp({
  name: 'k8s.unready-logs',
  summary: 'the unready pods of a deployment: why they are not ready, their events, and their log tails',
  mutates: false,
  risk: 'none',
  timeoutMs: 60_000,
  params: z
    .object({
      deployment: dns1123(253).describe('deployment name'),
      namespace: dns1123(63).default('default').describe('namespace'),
      tail: z.number().int().min(1).max(10_000).default(100).describe('log lines per container'),
      previous: z.boolean().default(false).describe('the previous container\'s log for every restarted container (crashed ones get it anyway)'),
    })
    .strict(),
  result: z.object({
    deployment: z.string(),
    namespace: z.string(),
    replicaSet: z.string().nullable().describe('the current ReplicaSet'),
    totalPods: z.number().int(),
    readyPods: z.number().int(),
    pods: z.array(
      z.object({
        pod: z.string(),
        phase: z.string(),
        node: z.string().nullable(),
        containers: z.array(
          z.object({
            container: z.string(),
            ready: z.boolean(),
            restartCount: z.number().int(),
            state: z.enum(['waiting', 'running', 'terminated', 'unknown']),
            reason: z.string().nullable().describe('CrashLoopBackOff, ImagePullBackOff, OOMKilled, Error, ...'),
            message: z.string().nullable(),
            lastExitCode: z.number().int().nullable(),
            lastReason: z.string().nullable().describe('why the previous container ended (OOMKilled, Error, ...)'),
            log: z.object({
              previous: z.boolean().describe('whether this is the previous (crashed) container\'s log'),
              text: z.string(),
              bytes: z.number().int(),
              truncated: z.boolean().describe('more log than the cap: only the end is kept'),
            }),
          }),
        ),
        events: z.array(z.object({ type: z.string(), reason: z.string(), message: z.string(), count: z.number().int(), lastSeen: z.string().nullable() })),
      }),
    ),
  }),
  errors: ['KU_ERR_K8S_NAMESPACE_NOT_ALLOWED', 'KU_ERR_K8S_NOT_FOUND', 'KU_ERR_K8S_UNAVAILABLE', 'KU_ERR_K8S_FAILED'],
  cli: { bin: 'ku-k8s', command: 'get-unready-logs', positional: ['deployment'] },
});
