/**
 * 1000 agents (each its own certificate and stream) reconnect at once after a hub restart:
 * the hub keeps answering, and every agent comes back without a manual step (none gives up).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { OP_TABLE } from '../../agent/ops/index.js';
import type { AgentInfo } from '../../proto/wire.js';
import { cleanup, control, enrollDirect, identityCreds, principal, startHub, unary, waitFor } from '../helpers/rig.js';

const N = Number(process.env.KU_STORM_AGENTS ?? 1000);
const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await cleanup();
});

describe('reconnect storm', () => {
  it(`${N} agents reconnect after a hub restart while the hub stays responsive`, async () => {
    const h = await startHub({ config: { heartbeatIntervalMs: 30_000 } });
    const config = parseAgentConfig({ ops: { 'diag.host': {} } }, OP_TABLE);
    for (let i = 0; i < N; i += 50) {
      const dirs = await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, j) => enrollDirect(h, `storm-${i + j}-${process.pid}`, { storm: 'yes' })));
      for (const d of dirs) agents.push(buildAgent(d, { config, hub: h.addr, backoff: { baseMs: 500, capMs: 5000 } }));
    }
    const t0 = Date.now();
    let fatal = 0;
    for (const a of agents) {
      a.link.on('fatal', () => fatal++);
      a.start();
    }
    await waitFor(() => h.hub.registry.all().length === N, () => `all ${N} to connect (${h.hub.registry.all().length})`, 120_000);
    const c = control(h, identityCreds(await principal(h)));
    const t1 = Date.now();
    await h.restart();
    // During the storm the hub answers control calls (each within its 15 s deadline).
    let answered = 0;
    while (h.hub.registry.all().length < N) {
      const { agents: list } = await unary<{ agents: AgentInfo[] }>(c, c.ListAgents, { selector: 'storm=yes' });
      expect(list).toHaveLength(N);
      answered++;
      await new Promise((r) => setTimeout(r, 100));
      if (answered > 1200) throw new Error(`only ${h.hub.registry.all().length} of ${N} reconnected`);
    }
    process.stdout.write(`storm: ${N} agents connected in ${t1 - t0} ms; all back ${Date.now() - t1} ms after the restart; ${answered} ListAgents answered meanwhile\n`);
    expect(answered).toBeGreaterThan(0);
    expect(fatal).toBe(0);
    expect(agents.every((a) => a.link.state === 'connected')).toBe(true);
  }, 300_000);
});
