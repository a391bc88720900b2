/**
 * `switchboard token`: make a random token and print it with the SHA-256 hash that goes into the auth
 * configuration. The token is shown once and stored nowhere.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '../broker/auth/policy.js';
import { usage } from './client-command.js';

const USAGE = `usage: switchboard token

Prints a fresh random token (for the client: SWITCHBOARD_TOKEN or the client's token option) and its
tokenSha256 (for an identity of the auth file, README "Security and limits").
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.length > 0) return usage('token', USAGE, `unexpected argument ${JSON.stringify(argv[0])}`);
  const token = randomBytes(32).toString('base64url');
  process.stdout.write(`token:       ${token}\ntokenSha256: ${sha256(token).toString('hex')}\n`);
  return 0;
}
