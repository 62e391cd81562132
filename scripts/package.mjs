// Self-contained programs and Debian packages (run after `npm run build`):
//   node scripts/package.mjs            -> dist/pkg/ku-hub, dist/pkg/ku-agent, dist/pkg/ku (single executables)
//                                          and dist/pkg/ku-hub_VERSION_ARCH.deb, dist/pkg/ku-agent_VERSION_ARCH.deb,
//                                          dist/pkg/ku_VERSION_ARCH.deb (the CLIs: ku, and ku-diag, ku-sys, ... linked to it)
// Each program is bundled with esbuild into one CommonJS file (the .proto contract embedded), then
// made a Node.js single executable application: the runtime is inside, so a server needs neither
// node_modules nor a Node.js installation (Debian 12's is 18).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const out = join(root, 'dist/pkg');
const only = process.argv.slice(2);
// Bundled from the TypeScript sources (esbuild reads them directly), not from dist/, whose CLI
// entry points are already ES module bundles of their own (scripts/build.mjs).
const PROGRAMS = { 'ku-hub': 'hub/main.ts', 'ku-agent': 'agent/main.ts', ku: 'cli/ku.ts' };
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const proto = readFileSync(join(root, 'proto/ku.proto'), 'utf8');

async function single(name, entry) {
  const bundle = join(out, `${name}.cjs`);
  await build({
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    define: { __KU_PROTO__: JSON.stringify(proto) },
    external: ['x11', 'usocket', 'pg-native'], // optional native add-ons, never used by ku
    logLevel: 'error',
    banner: { js: '// ku single-file build; see scripts/package.mjs' },
  });
  const cfg = join(out, `${name}.sea.json`);
  writeFileSync(cfg, JSON.stringify({ main: bundle, output: join(out, `${name}.blob`), disableExperimentalSEAWarning: true, useCodeCache: false }));
  execFileSync(process.execPath, ['--experimental-sea-config', cfg], { stdio: 'pipe' });
  const exe = join(out, name);
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  execFileSync(process.execPath, [join(root, 'node_modules/postject/dist/cli.js'), exe, 'NODE_SEA_BLOB', join(out, `${name}.blob`), '--sentinel-fuse', SENTINEL], { stdio: 'pipe' });
  rmSync(join(out, `${name}.blob`));
  rmSync(cfg);
  return exe;
}

function deb(name, exe, files, scripts, description, { links = [], depends = 'adduser' } = {}) {
  const dir = join(out, `deb-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'DEBIAN'), { recursive: true });
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  copyFileSync(exe, join(dir, 'usr/bin', name));
  chmodSync(join(dir, 'usr/bin', name), 0o755);
  for (const link of links) symlinkSync(name, join(dir, 'usr/bin', link));
  const conffiles = [];
  for (const [src, dest, mode, conf] of files) {
    mkdirSync(join(dir, dirname(dest)), { recursive: true });
    copyFileSync(join(root, src), join(dir, dest));
    chmodSync(join(dir, dest), mode);
    if (conf) conffiles.push(dest);
  }
  writeFileSync(
    join(dir, 'DEBIAN/control'),
    `Package: ${name}\nVersion: ${pkg.version}\nArchitecture: ${arch}\nMaintainer: ku maintainers <ku@example.invalid>\nSection: admin\nPriority: optional\n${depends ? `Depends: ${depends}\n` : ''}Description: ${description}\n Self-contained: carries its own JavaScript runtime; no Node.js needed.\n`,
  );
  if (conffiles.length) writeFileSync(join(dir, 'DEBIAN/conffiles'), conffiles.map((f) => `/${f}\n`).join(''));
  for (const [script, text] of Object.entries(scripts)) {
    writeFileSync(join(dir, 'DEBIAN', script), text);
    chmodSync(join(dir, 'DEBIAN', script), 0o755);
  }
  const file = join(out, `${name}_${pkg.version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', dir, file], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
  return file;
}

const made = {};
for (const [name, entry] of Object.entries(PROGRAMS)) if (!only.length || only.includes(name)) made[name] = await single(name, entry);
const scripts = (name) => ({
  postinst: readFileSync(join(root, `deploy/debian/${name}.postinst`), 'utf8'),
  prerm: readFileSync(join(root, `deploy/debian/${name}.prerm`), 'utf8'),
  postrm: readFileSync(join(root, `deploy/debian/${name}.postrm`), 'utf8'),
});
if (made['ku-agent']) {
  deb('ku-agent', made['ku-agent'], [
    ['deploy/systemd/ku-agent.service', 'lib/systemd/system/ku-agent.service', 0o644, false],
    ['deploy/examples/agent.json', 'etc/ku/agent.json', 0o644, true],
  ], scripts('ku-agent'), 'ku agent: runs allowlisted operations for the ku hub');
}
if (made['ku-hub']) {
  deb('ku-hub', made['ku-hub'], [
    ['deploy/systemd/ku-hub.service', 'lib/systemd/system/ku-hub.service', 0o644, false],
    ['deploy/examples/roles.json', 'usr/share/ku-hub/roles.example.json', 0o644, false],
  ], scripts('ku-hub'), 'ku hub: CA, role policy, audit and routing to ku agents');
}
if (made.ku) {
  // One executable under six names (as busybox does): cli/ku.ts answers to the name it is called by.
  deb('ku', made.ku, [], {}, 'ku command-line programs: ku, ku-diag, ku-sys, ku-pg, ku-slurm, ku-k8s', {
    links: (await import(pathToFileURL(join(root, 'dist/proto/op-spec.js')).href)).OP_BINS,
    depends: '',
  });
}
process.stdout.write(`${Object.keys(made).map((n) => `dist/pkg/${n}`).join(' ')} and packages in dist/pkg\n`);
