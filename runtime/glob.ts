/** Allowlist globs (units, tables, namespaces, op names): `*` matches any run of characters, nothing else is special. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}
