/**
 * The audit log: records for allowed and refused calls, and `ku-hub audit
 * verify` detecting an edited, removed, reordered or truncated record.
 */
import { copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAudit } from '../../hub/audit.js';
import { HUB_FILES } from '../../hub/state.js';
import { cleanup, cli, control, identityCreds, principal, run, runReq, startAgent, startHub, tmp, type HubCtx } from '../helpers/rig.js';

afterAll(cleanup);

let h: HubCtx;
let agentName: string;

beforeAll(async () => {
  h = await startHub();
  agentName = (await startAgent(h)).name;
  const admin = control(h, identityCreds(await principal(h, 'admin', 'auditor')));
  await run(admin, runReq('diag.host', { top: 1 })).done; // allowed
  await run(admin, runReq('diag.host', { top: 999 })).done; // refused: params
  const nobody = control(h, identityCreds(await principal(h, 'none', 'nobody')));
  await run(nobody, runReq('diag.host', {}, { hosts: [agentName] })).done; // refused: policy
  await run(admin, runReq('diag.host', { top: 2 })).done; // allowed
});

/** A copy of the hub state whose audit log the test may damage. */
function copyState(): string {
  const dir = join(tmp(), 'state');
  cpSync(h.dir, dir, { recursive: true });
  return dir;
}

function lines(dir: string): string[] {
  return readFileSync(join(dir, HUB_FILES.audit), 'utf8').trim().split('\n');
}

describe('audit records', () => {
  it('holds intent and outcome for allowed calls and a refusal record with its code for refused ones', () => {
    const recs = readAudit(join(h.dir, HUB_FILES.audit)).filter((r) => r.op === 'diag.host');
    expect(recs.map((r) => `${r.kind}:${r.principal}:${r.code ?? ''}`)).toEqual([
      'intent:auditor:',
      'outcome:auditor:',
      'refused:auditor:KU_ERR_INVALID_PARAMS',
      'refused:nobody:KU_ERR_POLICY_DENIED',
      'intent:auditor:',
      'outcome:auditor:',
    ]);
    const outcome = recs[1]!;
    expect(outcome.id).toBe(recs[0]!.id);
    expect(outcome.target).toBe(agentName);
    expect(outcome.ok).toBe(true);
    expect(outcome.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('verify passes on the untouched log', async () => {
    const r = await cli('ku-hub', ['audit', 'verify', '--state', h.dir]);
    expect(r.stdout).toMatch(/audit log ok/);
    expect(r.code).toBe(0);
  });

  const damage: [string, (l: string[]) => string[], RegExp][] = [
    ['an edited record', (l) => l.map((x, i) => (i === 3 ? x.replace('"KU_ERR_INVALID_PARAMS"', '"KU_ERR_TIMEOUT"') : x)), /hash mismatch/],
    ['a removed record', (l) => l.filter((_, i) => i !== 2), /sequence|link broken/],
    ['two swapped records', (l) => [l[0]!, l[2]!, l[1]!, ...l.slice(3)], /sequence|link broken/],
    ['records cut from the end', (l) => l.slice(0, -2), /ends before record/],
  ];
  for (const [what, change, problem] of damage) {
    it(`verify fails after ${what}`, async () => {
      const dir = copyState();
      writeFileSync(join(dir, HUB_FILES.audit), `${change(lines(dir)).join('\n')}\n`);
      const r = await cli('ku-hub', ['audit', 'verify', '--state', dir, '--json']);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout);
      expect(out.ok).toBe(false);
      expect(out.problems.map((p: { problem: string }) => p.problem).join('\n')).toMatch(problem);
    });
  }

  it('an edit that also recomputes that record\'s own hash is still caught by the next link', async () => {
    const dir = copyState();
    const { createHash } = await import('node:crypto');
    const l = lines(dir);
    const rec = JSON.parse(l[3]!);
    rec.code = 'KU_ERR_TIMEOUT';
    const { hash: _h, ...body } = rec;
    rec.hash = createHash('sha256').update(rec.prev).update('\n').update(JSON.stringify(body)).digest('hex');
    l[3] = JSON.stringify(rec);
    writeFileSync(join(dir, HUB_FILES.audit), `${l.join('\n')}\n`);
    copyFileSync(join(h.dir, HUB_FILES.auditHead), join(dir, HUB_FILES.auditHead));
    const r = await cli('ku-hub', ['audit', 'verify', '--state', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/line 5: previous-hash link broken/);
  });

  it('audit tail prints the newest records as JSON lines', async () => {
    const r = await cli('ku-hub', ['audit', 'tail', '--state', h.dir, '-n', '2']);
    expect(r.code).toBe(0);
    const recs = r.stdout.trim().split('\n').map((x) => JSON.parse(x));
    expect(recs.map((x: { kind: string }) => x.kind)).toEqual(['intent', 'outcome']);
  });
});
