/**
 * The message every request carries (its answer echoes it), the same for every system.
 */
import type { PayloadShape } from '../scenarios.js';

/**
 * A message of exactly `bytes` bytes as JSON (at least 21 for records). `records`: an object of small records, as an
 * application would send, padded with a string; `string`: one string, the cheapest JSON there is.
 */
export function makePayload(bytes: number, shape: PayloadShape = 'records'): unknown {
  if (shape === 'string') return 'x'.repeat(Math.max(0, bytes - 2));
  const items: unknown[] = [];
  let size = JSON.stringify({ items, pad: '' }).length;
  for (let i = 0; i < bytes; i++) {
    const item = { id: i, name: `item-${i}`, price: 9.5 + i, tags: ['a', 'b'], ok: i % 2 === 0 };
    const added = JSON.stringify(item).length + (items.length === 0 ? 0 : 1);
    if (size + added > bytes) break;
    items.push(item);
    size += added;
  }
  return { items, pad: 'x'.repeat(Math.max(0, bytes - size)) };
}
