/**
 * Preact with htm: components written as tagged templates, so the dashboard runs as plain ES modules
 * with no build step (lib/monitor/README.md, "The dashboard"). Every other file imports from here.
 */
import { h, render } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
export { render };
