/**
 * lib/client/README.md runs as written: each of its code blocks runs against a real broker and prints
 * what the README says (suite.ts). Needs a build (`npm test` builds first).
 */
import t from 'tap';
import { workspace } from './runners.js';
import { testBlocks } from './suite.js';

testBlocks(t, 'lib/client/README.md', workspace(t));
