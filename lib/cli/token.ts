/**
 * `switchboard token`: make a random token and print it with the SHA-256 hash that goes into the auth
 * configuration. The token is shown once and stored nowhere.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '../broker/index.js';

export const summary = 'make a random token and print the hash for the auth configuration';

export async function run(argv: string[]): Promise<number> {
  if (argv.length > 0) {
    process.stderr.write('usage: switchboard token\n');
    return 2;
  }
  const token = randomBytes(32).toString('base64url');
  process.stdout.write(`token:       ${token}\ntokenSha256: ${sha256(token).toString('hex')}\n`);
  return 0;
}
