/**
 * Label sets and label selectors, in the spelling of Kubernetes:
 * `env=prod,role!=db,zone in (a,b)`. All terms must match.
 */
export type Labels = Record<string, string>;

const KEY_RE = /^[a-z0-9]([a-z0-9._/-]{0,62})$/i;
const VALUE_RE = /^[a-z0-9._-]{0,63}$/i;

/** Parse `k=v,k2=v2` into labels; throws with the offending part named. */
export function parseLabels(text: string): Labels {
  const out: Labels = {};
  if (!text.trim()) return out;
  for (const part of text.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*([^=\s]*)\s*$/.exec(part);
    if (!m || !KEY_RE.test(m[1]!) || !VALUE_RE.test(m[2]!)) throw new Error(`invalid label ${JSON.stringify(part)}: use key=value with letters, digits, '.', '_', '-'`);
    if (Object.hasOwn(out, m[1]!)) throw new Error(`duplicate label ${m[1]}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

type Term =
  | { key: string; op: '='; value: string }
  | { key: string; op: '!='; value: string }
  | { key: string; op: 'in'; values: string[] };

/** A parsed selector. */
export interface Selector {
  readonly text: string;
  readonly terms: readonly Term[];
}

/** Split on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Parse a selector; throws with the offending term named. */
export function parseSelector(text: string): Selector {
  const terms: Term[] = [];
  for (const raw of splitTerms(text)) {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^\s=!]+)\s+in\s+\(([^)]*)\)$/.exec(part))) {
      const values = m[2]!.split(',').map((v) => v.trim());
      if (!KEY_RE.test(m[1]!) || values.some((v) => !VALUE_RE.test(v) || !v)) throw new Error(`invalid selector term ${JSON.stringify(part)}`);
      terms.push({ key: m[1]!, op: 'in', values });
    } else if ((m = /^([^\s=!]+)\s*(!=|==|=)\s*([^\s=!]*)$/.exec(part))) {
      if (!KEY_RE.test(m[1]!) || !VALUE_RE.test(m[3]!)) throw new Error(`invalid selector term ${JSON.stringify(part)}`);
      terms.push(m[2] === '!=' ? { key: m[1]!, op: '!=', value: m[3]! } : { key: m[1]!, op: '=', value: m[3]! });
    } else {
      throw new Error(`invalid selector term ${JSON.stringify(part)}: use key=value, key!=value or key in (a,b)`);
    }
  }
  return { text, terms };
}

/** Whether labels satisfy every term of the selector. */
export function matches(sel: Selector, labels: Labels): boolean {
  return sel.terms.every((t) => {
    const v = Object.hasOwn(labels, t.key) ? labels[t.key] : undefined;
    if (t.op === '=') return v === t.value;
    if (t.op === '!=') return v !== t.value;
    return v !== undefined && t.values.includes(v);
  });
}
