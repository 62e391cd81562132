import { KuError } from '../proto/errors.js';

/**
 * Join tokens: `ku1.ID.SECRET.PIN`. ID names the token record on the hub,
 * SECRET is the one-time bearer secret (the hub keeps only its hash), PIN is
 * the base64url SHA-256 of the hub's CA certificate, so a joining agent can
 * verify the hub before it sends the secret (as kubeadm's CA hash does).
 */
export const TOKEN_RE = /^ku1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

/** Split a token into its parts; throws KU_ERR_JOIN_TOKEN_INVALID when malformed. */
export function parseJoinToken(token: string): { id: string; secret: string; pin: string } {
  const m = TOKEN_RE.exec(token.trim());
  if (!m) throw new KuError('KU_ERR_JOIN_TOKEN_INVALID', 'malformed join token: expected ku1.ID.SECRET.PIN as printed by `ku-hub token create`');
  return { id: m[1]!, secret: m[2]!, pin: m[3]! };
}
