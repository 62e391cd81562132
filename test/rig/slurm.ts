/**
 * A real single-node Slurm with accounting (test/rig/slurm-up.sh, from shared/RIG.md §2), for the
 * one test file that uses it: Slurm is one per machine (fixed ports and /etc/slurm).
 */
import { requireRig } from './gate.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

export function slurmRigUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the Slurm rig needs root';
  for (const b of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/sbin/munged', '/usr/sbin/slurmdbd', '/usr/sbin/mariadbd']) {
    if (!existsSync(b)) return `missing ${b} (apt-get install slurmctld slurmd slurm-client munge slurmdbd mariadb-server)`;
  }
  return null;
}

/** True when the rig can run (see gate.ts). */
export function requireSlurmRig(env: NodeJS.ProcessEnv = process.env): boolean {
  return requireRig('Slurm', slurmRigUnavailable(), env);
}

export function slurmUp(): void {
  slurmDown(); // a run that crashed may have left the rig's daemons behind (by their PID files)
  const r = spawnSync('bash', [join(HERE, 'slurm-up.sh')], { encoding: 'utf8', env: { ...process.env, ACCT: '1' }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`slurm-up failed (${r.status}): ${r.stdout}${r.stderr}`);
}

export function slurmDown(): void {
  spawnSync('bash', [join(HERE, 'slurm-down.sh')], { encoding: 'utf8', timeout: 60_000 });
}

/** Run a Slurm client command as root (or as `user` via runuser); stdout, or throw. */
export function slurm(argv: string[], user?: string, cwd = '/tmp'): string {
  const full = user ? ['runuser', '-u', user, '--', ...argv] : argv;
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', cwd, timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}
