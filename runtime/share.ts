/** Fan-out limits as SSM writes them: a count ("10") or a share of the targets ("25%"). */
export function parseShare(text: string, total: number, what: string): number {
  const m = /^(\d{1,6})(%?)$/.exec(text.trim());
  if (!m) throw new Error(`${what} takes a number or a percentage such as 10 or 25%`);
  const n = Number(m[1]);
  if (!m[2]) return n;
  if (n > 100) throw new Error(`${what} percentage above 100`);
  return Math.max(n > 0 ? 1 : 0, Math.floor((total * n) / 100));
}
