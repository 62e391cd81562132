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
