/**
 * The conformance runner's public API (spec/README.md). It judges a broker from the wire only: this
 * directory imports `ws` and node:* and nothing else of lib/, so it can judge any implementation.
 */
export { CASES_DIR, PROFILES, loadProfile, runSuite, type SuiteOptions, type SuiteResult } from './runner.js';
export { runCase, type CaseResult } from './execute.js';
export { CaseFormatError, parseCase, type Case, type PeerSpec, type Step } from './case.js';
export type { Json } from './json.js';
