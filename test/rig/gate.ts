/**
 * The gate every system test passes: true when its rig can run. In CI, or as root, a rig that
 * cannot run is a failure, never a quiet skip; a non-root developer gets a loud notice instead.
 */
export function requireRig(what: string, why: string | null, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!why) return true;
  if (env.CI || process.getuid?.() === 0) throw new Error(`${what} system tests cannot run: ${why}`);
  process.stderr.write(`\n*** SKIPPING ${what} system tests: ${why}. Run \`npm test\` as root to include them. ***\n\n`);
  return false;
}
