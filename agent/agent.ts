/**
 * buildAgent: the agent as an object with start/close, shared by `ku-agent
 * start`, `ku dev` and the tests.
 */
import { KuError } from '../proto/errors.js';
import { silentLogger, type Logger } from '../runtime/log.js';
import type { AgentConfig } from './config.js';
import { Dispatcher } from './dispatch.js';
import { execArgv, type Executor } from './executor.js';
import { AgentLink, type BackoffOptions } from './link.js';
import { OP_TABLE } from './ops/index.js';
import type { OpImpl } from './ops/types.js';
import { AgentState } from './state.js';

export interface AgentDeps {
  config: AgentConfig;
  log?: Logger;
  /** Operation table; tests may add their own. */
  table?: readonly OpImpl[];
  exec?: Executor;
  /** Overrides the hub address recorded at join. */
  hub?: string;
  backoff?: BackoffOptions;
}

export interface Agent {
  readonly link: AgentLink;
  readonly name: string;
  /** Connect (and keep reconnecting) in the background. */
  start(): void;
  /** Resolves once connected to the hub (or rejects on a fatal refusal). */
  connected(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Build an agent over a joined state directory. */
export function buildAgent(stateDir: string, deps: AgentDeps): Agent {
  const state = new AgentState(stateDir);
  const meta = state.meta();
  const log = (deps.log ?? silentLogger()).child({ agent: meta.name });
  const dispatcher = new Dispatcher(deps.table ?? OP_TABLE, deps.config, { log: log.child({ c: 'dispatch' }), exec: deps.exec ?? execArgv, storeDir: state.storeDir });
  const link = new AgentLink({ hub: deps.hub ?? meta.hub, state, dispatcher, log: log.child({ c: 'link' }), ...(deps.backoff ? { backoff: deps.backoff } : {}) });
  return {
    link,
    name: meta.name,
    start: () => link.start(),
    connected(timeoutMs = 10_000) {
      if (link.state === 'connected') return Promise.resolve();
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          link.off('connected', onOk);
          link.off('fatal', onFatal);
        };
        const onOk = (): void => (done(), resolve());
        const onFatal = (e: KuError): void => (done(), reject(e));
        const timer = setTimeout(() => (done(), reject(new KuError('KU_ERR_HUB_UNREACHABLE', `not connected within ${timeoutMs} ms`))), timeoutMs);
        link.on('connected', onOk);
        link.on('fatal', onFatal);
      });
    },
    async close() {
      link.close();
    },
  };
}
