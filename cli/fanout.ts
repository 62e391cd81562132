/**
 * What a run prints as results arrive: one line (or block) per host as it comes in, a live
 * done/failed/pending line on a terminal, and for runs on several hosts a closing summary:
 * counts per outcome, the slowest hosts, and the hosts that did not answer.
 */
import { KuError } from '../proto/errors.js';
import type { RunEvent } from '../proto/wire.js';
import { printResult, table, type Out, type ResultLine } from './output.js';

export interface Summary {
  total: number;
  ok: number;
  failed: number;
  byCode: Record<string, number>;
  slowest: { host: string; durationMs: number }[];
  didNotAnswer: string[];
}

export class RunPrinter {
  readonly results: ResultLine[] = [];
  private plan: string[] = [];
  private progressShown = false;

  constructor(
    private readonly out: Out,
    private readonly live: boolean,
  ) {}

  get many(): boolean {
    return this.plan.length > 1;
  }

  onEvent(ev: RunEvent): void {
    if (ev.kind === 'plan' && ev.plan) {
      this.plan = ev.plan.hosts;
      this.progress();
      return;
    }
    if (ev.kind === 'result' && ev.result) {
      const r = ev.result;
      const line: ResultLine = r.ok
        ? { host: ev.host, op: ev.op, ok: true, data: JSON.parse(r.data_json || 'null'), durationMs: r.duration_ms, auditId: r.audit_id || null }
        : {
            host: ev.host,
            op: ev.op,
            ok: false,
            error: KuError.fromBody({ code: r.error!.code, message: r.error!.message, details: r.error!.details_json ? JSON.parse(r.error!.details_json) : undefined }).toBody(),
            durationMs: r.duration_ms,
            auditId: r.audit_id || null,
          };
      this.results.push(line);
      this.clearProgress();
      printResult(this.out, line, this.many);
      this.progress();
      return;
    }
    if (this.out.json) {
      const data = JSON.parse((ev.kind === 'progress' ? ev.progress?.json : ev.chunk?.json) || 'null');
      this.out.stdout(`${JSON.stringify({ host: ev.host, op: ev.op, event: ev.kind, data })}\n`);
    } else if (ev.kind === 'progress') {
      this.clearProgress();
      this.out.stderr(`${ev.host}: ${ev.progress?.json}\n`);
      this.progress();
    }
    // On a terminal, chunks are not printed: the result that follows holds the same data.
  }

  summary(): Summary {
    const byCode: Record<string, number> = {};
    for (const r of this.results) if (!r.ok) byCode[r.error!.code] = (byCode[r.error!.code] ?? 0) + 1;
    const answered = new Set(this.results.map((r) => r.host));
    return {
      total: this.plan.length,
      ok: this.results.filter((r) => r.ok).length,
      failed: this.results.filter((r) => !r.ok).length,
      byCode,
      slowest: [...this.results].sort((a, b) => b.durationMs - a.durationMs).slice(0, 5).map((r) => ({ host: r.host!, durationMs: r.durationMs })),
      didNotAnswer: this.plan.filter((h) => !answered.has(h)),
    };
  }

  /** Print the summary (runs on several hosts only). */
  finish(): void {
    this.clearProgress();
    if (!this.many) return;
    const s = this.summary();
    if (this.out.json) {
      this.out.stdout(`${JSON.stringify({ summary: s })}\n`);
      return;
    }
    const lines = [`${s.total} hosts: ${s.ok} ok, ${s.failed} failed${s.didNotAnswer.length ? `, ${s.didNotAnswer.length} did not answer` : ''}`];
    for (const [code, n] of Object.entries(s.byCode)) lines.push(`  ${code}: ${n}`);
    if (s.slowest.length) lines.push('slowest:', table(s.slowest));
    if (s.didNotAnswer.length) lines.push(`did not answer: ${s.didNotAnswer.join(', ')}`);
    this.out.stderr(`${lines.join('\n')}\n`);
  }

  private progress(): void {
    if (!this.live || this.plan.length < 2) return;
    const failed = this.results.filter((r) => !r.ok).length;
    this.out.stderr(`\r${this.results.length - failed} done, ${failed} failed, ${this.plan.length - this.results.length} pending`);
    this.progressShown = true;
  }

  private clearProgress(): void {
    if (this.progressShown) this.out.stderr('\r\x1b[K');
    this.progressShown = false;
  }
}
