/**
 * The Lua scripts that make a name's ownership atomic in Redis (protocol.md section 16). A name's record
 * is the string `node|conn|dialect|identity` under `<prefix>name:<name>`; it counts only while the lease
 * `<prefix>node:<node>` of the node it names is alive, so a dead node's names free themselves when its
 * lease ends, with nothing to clean up. The identity comes last: it is the one part that may hold a `|`.
 */

/**
 * Claim a name. KEYS[1] the name's key; ARGV: prefix, node, conn, dialect, identity ('' when anonymous),
 * takeover ('1' or '0'). Returns {'ok'}, {'held'} (this connection already holds it), {'over', node,
 * conn} (taken over from that holder, same identity [SB-4.1-6]) or {'taken', node, conn} ([SB-3-2]).
 */
export const CLAIM = `
local v = redis.call('GET', KEYS[1])
local me = ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
if v then
  local node, conn, dialect, ident = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then
    if node == ARGV[2] and conn == ARGV[3] then return {'held'} end
    if ARGV[6] == '1' and ARGV[5] ~= '' and ident == ARGV[5] then
      redis.call('SET', KEYS[1], me)
      return {'over', node, conn}
    end
    return {'taken', node, conn}
  end
end
redis.call('SET', KEYS[1], me)
return {'ok'}
`;

/** Release a name if this connection still holds it. KEYS[1] the name's key; ARGV: node, conn. Returns 1 or 0. */
export const RELEASE = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + #ARGV[2] + 2) == ARGV[1] .. '|' .. ARGV[2] .. '|' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

/**
 * The live holders of names. KEYS: the names' keys; ARGV[1]: prefix. Returns, per key, the record of its
 * holder, or '' when nobody holds it or its node's lease has ended.
 */
export const LOOKUP = `
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  out[i] = ''
  if v then
    local node = string.match(v, '^([^|]*)|')
    if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then out[i] = v end
  end
end
return out
`;

/** A holder's record, parsed. */
export interface Holder {
  readonly node: string;
  readonly conn: string;
  readonly dialect: 'legacy' | 'extended';
}

export function parseHolder(record: string): Holder | undefined {
  const parts = record.split('|', 3);
  if (parts.length < 3) return undefined;
  const [node, conn, dialect] = parts;
  return { node, conn, dialect: dialect === 'legacy' ? 'legacy' : 'extended' };
}
