// Build: type-check and emit dist/ with tsc, copy the .proto contract beside
// the code that loads it, and mark the CLI entry points executable.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
mkdirSync(join(root, 'dist/proto'), { recursive: true });
copyFileSync(join(root, 'proto/ku.proto'), join(root, 'dist/proto/ku.proto'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const bin of Object.values(pkg.bin)) chmodSync(join(root, bin), 0o755);

// The command-line programs start in a fresh process for every call, and resolving and loading
// several hundred ES modules costs more than the call itself: bundle each CLI entry point into
// one file, in place, so that relative paths (the .proto, ../hub/main.js for `ku dev`) still hold.
// Hub and agent are long-running and keep the plain module layout.
const { build } = await import('esbuild');
const CLIS = ['ku', 'ku-diag', 'ku-sys', 'ku-pg', 'ku-slurm', 'ku-k8s'];
await Promise.all(
  CLIS.map((name) =>
    build({
      entryPoints: [join(root, `dist/cli/${name}.js`)],
      outfile: join(root, `dist/cli/${name}.js`),
      allowOverwrite: true,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      external: ['x11', 'usocket', 'pg-native'], // optional native add-ons, never used by ku
      // CommonJS dependencies inside an ES module bundle still call require() for Node's built-ins.
      banner: { js: "import { createRequire as __kuRequire } from 'node:module'; const require = __kuRequire(import.meta.url);" },
      logLevel: 'error',
    }),
  ),
);
for (const name of CLIS) chmodSync(join(root, `dist/cli/${name}.js`), 0o755);
