// Rewrites the error-code table in README.md from the registry (run after `npm run build`):
//   node scripts/error-table.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { ERRORS, exitCodeOf } from '../dist/proto/errors.js';

const path = new URL('../README.md', import.meta.url);
const readme = readFileSync(path, 'utf8');
const head = '| code | exit | retryable | hint |\n|---|---|---|---|\n';
const rows = Object.entries(ERRORS)
  .map(([code, d]) => `| \`${code}\` | ${exitCodeOf(code)} | ${d.retryable ? 'yes' : 'no'} | ${d.hint.replace(/\|/g, '\\|')} |`)
  .join('\n');
const start = readme.indexOf(head);
const end = readme.indexOf('\n## ', start);
if (start < 0 || end < 0) throw new Error('README has no error table');
writeFileSync(path, `${readme.slice(0, start)}${head}${rows}\n${readme.slice(end)}`);
