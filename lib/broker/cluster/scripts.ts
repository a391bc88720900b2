/**
 * The Lua scripts that make a name's ownership atomic in Redis (protocol.md section 16). A name's record
 * is the string `node|conn|dialect|identity` under `<prefix>name:<name>`; it counts only while the lease
 * `<prefix>node:<node>` of the node it names is alive, so a dead node's names free themselves when its
 * lease ends, with nothing to clean up. The identity comes last: it is the one part that may hold a `|`.
 * A pool's members ([SB-6.4-1]) are the set `<prefix>pool:<name>` of `node|conn|dialect`, each counting
 * while its node's lease lives; `<prefix>rr:<name>` is the pool's round-robin counter.
 *
 * The mailbox of an offline durable name ([SB-6.3-1], [SB-16-6]) is the hash `<prefix>box:<name>`
 * (`since`, `bytes`) and the list `<prefix>boxq:<name>` of its items, oldest first; the set
 * `<prefix>boxes` names every mailbox and `<prefix>boxbytes` counts their bytes. An item is
 * `<header JSON>\n<body>` (mailboxes.ts). A mailbox is opened by the release of its name, filled by
 * ENQUEUE, emptied by the claim that takes the name (in the same script, so nothing is queued for a name
 * once it has a holder), and aged by SWEEP. A service's contract ([SB-14-1]) is the JSON string
 * `<prefix>svc:<name>`, in the set `<prefix>svcs`, and goes with the name's last holder. Scripts name the keys of their names in KEYS; the keys of
 * node leases and of SWEEP's mailboxes are built from the prefix (one Redis, not Redis Cluster).
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

-- Whether name record \`rec\` names a connection of a live node, or pool \`pool\` has a live member.
local function held(prefix, rec, pool)
  local v = redis.call('GET', rec)
  if v then
    local node = string.match(v, '^([^|]*)|')
    if node and redis.call('EXISTS', prefix .. 'node:' .. node) == 1 then return true end
  end
  return #live(prefix, pool) > 0
end
`;

/**
 * Lua: the items of the mailbox of the name ARGV[1] being claimed, which goes (KEYS[3..6]: its hash, its
 * list, the set of mailboxes, the byte count). Returns the items, oldest first; none when it has none.
 */
const TAKE = `
local function take(name, box, list, boxes, total)
  if redis.call('EXISTS', box) == 0 then return {} end
  local items = redis.call('LRANGE', list, 0, -1)
  redis.call('DECRBY', total, tonumber(redis.call('HGET', box, 'bytes') or '0'))
  redis.call('DEL', box, list)
  redis.call('SREM', boxes, name)
  return items
end
`;

/**
 * Claim a name. KEYS: the name's record and pool, then its mailbox's keys (TAKE), then its durable mark;
 * ARGV: prefix, node, conn, dialect, identity ('' when anonymous), takeover ('1' or '0'), the name,
 * durable ('1' or '0': the mark says whether a mailbox opens if the holder's node dies). Returns {'ok', items...}
 * (with what waited in its mailbox, which goes), {'held'} (this connection already holds it),
 * {'over', node, conn} (taken over from that holder, same identity [SB-4.1-6]), {'taken', node, conn}
 * ([SB-3-2]) or {'conflict'} (a live pool has the name [SB-6.4-1]).
 */
export const CLAIM = `${LIVE_MEMBERS}${TAKE}
if #live(ARGV[1], KEYS[2]) > 0 then return {'conflict'} end
local v = redis.call('GET', KEYS[1])
local me = ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
if v then
  local node, conn, dialect, ident = string.match(v, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then
    if node == ARGV[2] and conn == ARGV[3] then return {'held'} end
    if ARGV[6] == '1' and ARGV[5] ~= '' and ident == ARGV[5] then
      redis.call('SET', KEYS[1], me)
      if ARGV[8] == '1' then redis.call('SET', KEYS[7], '1') else redis.call('DEL', KEYS[7]) end
      return {'over', node, conn}
    end
    return {'taken', node, conn}
  end
end
redis.call('SET', KEYS[1], me)
if ARGV[8] == '1' then redis.call('SET', KEYS[7], '1') else redis.call('DEL', KEYS[7]) end
local out = take(ARGV[7], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
table.insert(out, 1, 'ok')
return out
`;

/**
 * Join a pool. KEYS: the name's record and pool, then its mailbox's keys (TAKE); ARGV: prefix, member,
 * the name. Returns {'ok', items...} (what waited in its mailbox), or {'conflict'} when a live connection
 * holds the name exclusively.
 */
export const JOIN = `${TAKE}
local v = redis.call('GET', KEYS[1])
if v then
  local node = string.match(v, '^([^|]*)|')
  if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then return {'conflict'} end
  redis.call('DEL', KEYS[1])
end
redis.call('SADD', KEYS[2], ARGV[2])
local out = take(ARGV[3], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
table.insert(out, 1, 'ok')
return out
`;

/**
 * Release a name held exclusively or as a pool member by this connection. KEYS: the name's record and
 * pool, its mailbox's hash, the set of mailboxes, its durable mark (which goes with the record), its
 * service contract and the set of services; ARGV: node, conn, member, prefix, whether to open a mailbox
 * ('1': a durable name lost its holder otherwise than by unregister), now (ms), the most mailboxes, the
 * name. When nobody holds the name any more, its contract goes ([SB-14-1]) and the mailbox opens if asked
 * ([SB-6.3-1]). Returns {1} when nobody holds it now, else {0}.
 */
export const RELEASE = `${LIVE_MEMBERS}
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + #ARGV[2] + 2) == ARGV[1] .. '|' .. ARGV[2] .. '|' then
  redis.call('DEL', KEYS[1], KEYS[5])
end
redis.call('SREM', KEYS[2], ARGV[3])
if held(ARGV[4], KEYS[1], KEYS[2]) then return {0} end
redis.call('DEL', KEYS[6])
redis.call('SREM', KEYS[7], ARGV[8])
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[3]) == 0 and redis.call('SCARD', KEYS[4]) < tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[3], 'since', ARGV[6], 'bytes', '0')
  redis.call('SADD', KEYS[4], ARGV[8])
end
return {1}
`;

/**
 * Keep the contract of a service ([SB-14-1]). KEYS: the name's pool, its contract, the set of services;
 * ARGV: prefix, the version, the contract (JSON), the name. The members of a pool announce one version:
 * while other members hold the name, another version changes nothing and is answered with the version
 * kept; '' when kept.
 */
export const ANNOUNCE = `${LIVE_MEMBERS}
local kept = redis.call('GET', KEYS[2])
if kept and #live(ARGV[1], KEYS[1]) > 1 then
  local version = cjson.decode(kept).version
  if version ~= ARGV[2] then return version end
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
return ''
`;

/**
 * The services of the cluster ([SB-14-4]). KEYS: the set of services; ARGV: prefix, then the names asked
 * for (none: all). Returns, flat, per service that has a holder: its name, how many connections hold it,
 * its contract. A contract whose name nobody holds any more (its node died) goes.
 */
export const SERVICES = `${LIVE_MEMBERS}
local names = {}
if #ARGV > 1 then
  for i = 2, #ARGV do table.insert(names, ARGV[i]) end
else
  names = redis.call('SMEMBERS', KEYS[1])
end
local out = {}
for _, name in ipairs(names) do
  local contract = redis.call('GET', ARGV[1] .. 'svc:' .. name)
  if contract then
    local members = #live(ARGV[1], ARGV[1] .. 'pool:' .. name)
    if members == 0 and held(ARGV[1], ARGV[1] .. 'name:' .. name, ARGV[1] .. 'pool:' .. name) then members = 1 end
    if members == 0 then
      redis.call('DEL', ARGV[1] .. 'svc:' .. name)
      redis.call('SREM', KEYS[1], name)
    else
      table.insert(out, name)
      table.insert(out, tostring(members))
      table.insert(out, contract)
    end
  end
end
return out
`;

/**
 * Queue one message, or one request's slots, in the mailboxes of offline names: all of them or none
 * ([SB-4.3-2]: a send is delivered whole or not at all). KEYS: per name its record, pool, mailbox hash
 * and list; last, the byte count. ARGV: prefix, the body's bytes, maxMailboxSize, maxMailboxBytes,
 * maxMailboxBytesTotal, then one item per name. Returns {'ok'}; {'full', i} (name i's mailbox is at a
 * limit), {'total', i} (every mailbox together would pass maxMailboxBytesTotal) ([SB-6.3-2]); or
 * {'held', i} / {'gone', i} when name i was taken, or its mailbox closed, since it was looked up.
 */
export const ENQUEUE = `${LIVE_MEMBERS}
local n = (#KEYS - 1) / 4
local bytes = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[#KEYS]) or '0')
for i = 0, n - 1 do
  local k = i * 4
  if held(ARGV[1], KEYS[k + 1], KEYS[k + 2]) then return {'held', tostring(i + 1)} end
  if redis.call('EXISTS', KEYS[k + 3]) == 0 then return {'gone', tostring(i + 1)} end
  local boxBytes = tonumber(redis.call('HGET', KEYS[k + 3], 'bytes') or '0')
  if redis.call('LLEN', KEYS[k + 4]) >= tonumber(ARGV[3]) or boxBytes + bytes > tonumber(ARGV[4]) then return {'full', tostring(i + 1)} end
  if total + bytes * (i + 1) > tonumber(ARGV[5]) then return {'total', tostring(i + 1)} end
end
for i = 0, n - 1 do
  local k = i * 4
  redis.call('RPUSH', KEYS[k + 4], ARGV[6 + i])
  redis.call('HINCRBY', KEYS[k + 3], 'bytes', bytes)
end
redis.call('INCRBY', KEYS[#KEYS], bytes * n)
return {'ok'}
`;

/**
 * Put back in front of a mailbox what a claim took for a connection that then did not keep the name.
 * KEYS: the name's record and pool, its mailbox's hash and list, the set of mailboxes, the byte count;
 * ARGV: prefix, now (ms), the name, the items' bytes, the items (oldest first). Returns 0 without doing
 * anything when the name has a live holder again.
 */
export const RESTORE = `${LIVE_MEMBERS}
if held(ARGV[1], KEYS[1], KEYS[2]) then return 0 end
if redis.call('EXISTS', KEYS[3]) == 0 then redis.call('HSET', KEYS[3], 'since', ARGV[2], 'bytes', '0') end
for i = #ARGV, 5, -1 do redis.call('LPUSH', KEYS[4], ARGV[i]) end
redis.call('HINCRBY', KEYS[3], 'bytes', tonumber(ARGV[4]))
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('INCRBY', KEYS[6], tonumber(ARGV[4]))
return 1
`;

/**
 * Age the mailboxes ([SB-6.3-2], [SB-6.3-3]). KEYS: the set of mailboxes, the byte count; ARGV: prefix,
 * now (ms), maxMailboxAgeMs. An item leaves at its age, a queued request's slot at its deadline (`e`),
 * and an empty mailbox once it is as old as the age; from the head of each list only. Returns, per item gone, its mailbox's name and the
 * item, as a flat list; each item is returned to one caller only.
 */
export const SWEEP = `
local now = tonumber(ARGV[2])
local age = tonumber(ARGV[3])
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local box = ARGV[1] .. 'box:' .. name
  local list = ARGV[1] .. 'boxq:' .. name
  while true do
    local item = redis.call('LINDEX', list, 0)
    if not item then break end
    local cut = string.find(item, '\\n', 1, true)
    local header = cjson.decode(string.sub(item, 1, cut - 1))
    local ends = header.e or (header.t + age)
    -- Items queue in the order they came, so the oldest is first. A request's slot that ends sooner
    -- behind one that has not is left for the claim to drop (mailboxes.ts).
    if now < ends then break end
    redis.call('LPOP', list)
    redis.call('HINCRBY', box, 'bytes', -header.y)
    redis.call('DECRBY', KEYS[2], header.y)
    table.insert(out, name)
    table.insert(out, item)
  end
  if redis.call('LLEN', list) == 0 and now - tonumber(redis.call('HGET', box, 'since') or '0') >= age then
    redis.call('DEL', box, list)
    redis.call('SREM', KEYS[1], name)
  end
end
return out
`;

/**
 * The live holders of names. KEYS: per name, its record, pool, counter, mailbox hash and durable mark;
 * ARGV: prefix, now (ms), maxMailboxes, then the names. A durable name whose holder's node lease ended
 * without a release (the node died) gets its mailbox here ([SB-16-6]).
 * Returns, per name, the record of its holder; or, for a pool, the list of its live members of every
 * node, sorted and rotated so that the one whose turn it is comes first ([SB-6.4-1]); or 'mailbox' when
 * nobody holds it and it has a mailbox ([SB-6.3-1]); or '' when nobody holds it.
 */
export const LOOKUP = `${LIVE_MEMBERS}
local out = {}
for i = 1, #KEYS, 5 do
  local v = redis.call('GET', KEYS[i])
  local found = ''
  if v then
    local node = string.match(v, '^([^|]*)|')
    if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then found = v
    elseif redis.call('EXISTS', KEYS[i + 4]) == 1 and redis.call('EXISTS', KEYS[i + 3]) == 0
      and redis.call('SCARD', ARGV[1] .. 'boxes') < tonumber(ARGV[3]) then
      -- A durable holder whose node died without releasing it: its mailbox opens now.
      redis.call('HSET', KEYS[i + 3], 'since', ARGV[2], 'bytes', '0')
      redis.call('SADD', ARGV[1] .. 'boxes', ARGV[4 + (i - 1) / 5])
      redis.call('DEL', KEYS[i], KEYS[i + 4])
    end
  end
  if found == '' then
    local members = live(ARGV[1], KEYS[i + 1])
    if #members > 0 then
      local first = (redis.call('INCR', KEYS[i + 2]) - 1) % #members
      found = {}
      for k = 0, #members - 1 do table.insert(found, members[(first + k) % #members + 1]) end
    elseif redis.call('EXISTS', KEYS[i + 3]) == 1 then
      found = 'mailbox'
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
