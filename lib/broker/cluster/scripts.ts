/**
 * The Lua scripts that make a name's ownership atomic in Redis (protocol.md section 16). A name's record
 * is the string `node|conn|dialect|identity` under `<prefix>name:<name>`; it counts only while the lease
 * `<prefix>node:<node>` of the node it names is alive, so a dead node's names free themselves when its
 * lease ends, with nothing to clean up. The identity comes last: it is the one part that may hold a `|`.
 * A pool's members ([SB-6.4-1]) are the set `<prefix>pool:<name>` of `node|conn|dialect`, each counting
 * while its node's lease lives; `<prefix>rr:<name>` is the pool's round-robin counter. Every script
 * names each key it touches: KEYS per name are its record, its pool and its counter.
 */

/** Lua: the members of pool KEYS[k] whose node lease lives (ARGV[1] the prefix), sorted; dead ones leave the set. */
const LIVE_MEMBERS = `
local function live(prefix, pool)
  local out = {}
  for _, member in ipairs(redis.call('SMEMBERS', pool)) do
    local node = string.match(member, '^([^|]*)|')
    if node and redis.call('EXISTS', prefix .. 'node:' .. node) == 1 then table.insert(out, member)
    else redis.call('SREM', pool, member) end
  end
  table.sort(out)
  return out
end
`;

/**
 * Claim a name. KEYS: the name's record and pool; ARGV: prefix, node, conn, dialect, identity ('' when
 * anonymous), takeover ('1' or '0'). Returns {'ok'}, {'held'} (this connection already holds it),
 * {'over', node, conn} (taken over from that holder, same identity [SB-4.1-6]), {'taken', node, conn}
 * ([SB-3-2]) or {'conflict'} (a live pool has the name [SB-6.4-1]).
 */
export const CLAIM = `${LIVE_MEMBERS}
if #live(ARGV[1], KEYS[2]) > 0 then return {'conflict'} end
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

/** Join a pool. KEYS: the name's record and pool; ARGV: prefix, member. Returns 'ok', or 'conflict' when a live connection holds the name exclusively. */
export const JOIN = `
local v = redis.call('GET', KEYS[1])
if v then
  local node = string.match(v, '^([^|]*)|')
  if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then return 'conflict' end
  redis.call('DEL', KEYS[1])
end
redis.call('SADD', KEYS[2], ARGV[2])
return 'ok'
`;

/** Release a name held exclusively or as a pool member by this connection. KEYS: the name's record and pool; ARGV: node, conn, member. */
export const RELEASE = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + #ARGV[2] + 2) == ARGV[1] .. '|' .. ARGV[2] .. '|' then
  redis.call('DEL', KEYS[1])
end
redis.call('SREM', KEYS[2], ARGV[3])
return 0
`;

/**
 * The live holders of names. KEYS: per name, its record, pool and counter; ARGV[1]: prefix. Returns, per
 * name, the record of its holder; or, for a pool, the list of its live members of every node, sorted
 * and rotated so that the one whose turn it is comes first ([SB-6.4-1]); or '' when nobody holds it.
 */
export const LOOKUP = `${LIVE_MEMBERS}
local out = {}
for i = 1, #KEYS, 3 do
  local v = redis.call('GET', KEYS[i])
  local found = ''
  if v then
    local node = string.match(v, '^([^|]*)|')
    if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then found = v end
  end
  if found == '' then
    local members = live(ARGV[1], KEYS[i + 1])
    if #members > 0 then
      local first = (redis.call('INCR', KEYS[i + 2]) - 1) % #members
      found = {}
      for k = 0, #members - 1 do table.insert(found, members[(first + k) % #members + 1]) end
    end
  end
  table.insert(out, found)
end
return out
`;

/** A holder's record (or a pool member's), parsed. */
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
