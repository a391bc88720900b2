/**
 * The Lua scripts that make a name's ownership atomic in Redis (protocol.md section 16). A name's record
 * is the string `node|conn|dialect|identity` under `<prefix>name:<name>`; it counts only while the lease
 * `<prefix>node:<node>` of the node it names is alive, so a dead node's names free themselves when its
 * lease ends, with nothing to clean up. The identity comes last: it is the one part that may hold a `|`.
 * A pool's members ([SB-6.4-1]) are the set `<prefix>pool:<name>` of `node|conn|dialect`, each counting
 * while its node's lease lives; `<prefix>rr:<name>` is the pool's round-robin counter, and the hash
 * `<prefix>busy:<name>` marks the members at their in-flight limit (member -> until when, ms; busy.ts).
 *
 * The mailbox of an offline durable name ([SB-6.3-1], [SB-16-6]) is the hash `<prefix>box:<name>`
 * (`since`, `bytes`, `open`, `last`) and the stream `<prefix>boxq:<name>` of its entries, oldest first,
 * each with fields `y` (its bytes) and `i` (the item, `<header JSON>\n<body>`, mailboxes.ts); the set
 * `<prefix>boxes` names every mailbox and `<prefix>boxbytes` counts their bytes. An entry's id is
 * `<ms>-<n>`, `n` from the counter `<prefix>boxseq`: unique in the cluster, rising within a mailbox; it is
 * the `mailbox` id its message carries. A mailbox is opened by the release of its name (or OPEN), filled
 * by ENQUEUE while open and while the name has no holder (so nothing is queued for a name once it has
 * one), closed by TAKE, which its new holder's node runs after the claim and which gives it the entries;
 * an entry goes (DONE) only once the
 * holder's node has written it to the holder's socket, and a mailbox closed with entries left opens again
 * when the name has no live holder (its holder left, or its node died): delivery is at least once.
 * SWEEP ages the entries of open mailboxes. A service's contract ([SB-14-1]) is the JSON string
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

/** Lua: open a mailbox. */
const MAILBOX = `
-- Open the mailbox \`box\` of \`name\` (again) at \`now\`; a new one only while fewer than \`most\` exist.
local function open(prefix, name, box, now, most)
  if redis.call('EXISTS', box) == 1 then
    redis.call('HSET', box, 'open', '1', 'since', now)
  elseif redis.call('SCARD', prefix .. 'boxes') < tonumber(most) then
    redis.call('HSET', box, 'since', now, 'bytes', '0', 'open', '1')
    redis.call('SADD', prefix .. 'boxes', name)
  end
end
`;

/**
 * Claim a name. KEYS: the name's record and pool, then its durable mark; ARGV: prefix, node, conn,
 * dialect, identity ('' when anonymous), takeover ('1' or '0'), the name, durable ('1' or '0': the mark
 * says whether a mailbox opens if the holder's node dies). Returns {'ok'}, {'held'} (this connection
 * already holds it), {'over', node, conn} (taken over from that holder, same identity [SB-4.1-6]),
 * {'taken', node, conn} ([SB-3-2]) or {'conflict'} (a live pool has the name [SB-6.4-1]).
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
      if ARGV[8] == '1' then redis.call('SET', KEYS[3], '1') else redis.call('DEL', KEYS[3]) end
      return {'over', node, conn}
    end
    return {'taken', node, conn}
  end
end
redis.call('SET', KEYS[1], me)
if ARGV[8] == '1' then redis.call('SET', KEYS[3], '1') else redis.call('DEL', KEYS[3]) end
return {'ok'}
`;

/**
 * Join a pool. KEYS: the name's record and pool; ARGV: prefix, member. Returns {'ok'}, {'held'} (this
 * connection is a member already), or {'conflict'} when a live connection holds the name exclusively.
 */
export const JOIN = `${LIVE_MEMBERS}
local v = redis.call('GET', KEYS[1])
if v then
  local node = string.match(v, '^([^|]*)|')
  if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then return {'conflict'} end
  redis.call('DEL', KEYS[1])
end
live(ARGV[1], KEYS[2])
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return {'held'} end
redis.call('SADD', KEYS[2], ARGV[2])
return {'ok'}
`;

/**
 * The mailbox of a name that just got a holder, which closes; an empty one goes ([SB-6.3-1]). KEYS: the
 * name's pool, its mailbox's hash and stream, the set of mailboxes; ARGV: prefix, the name. Returns id,
 * item, id, item..., oldest first. The entries stay until DONE: a holder's node that never writes them
 * leaves them to the next holder. A closed mailbox while other members of the pool live is being written
 * to one of them: it is not taken twice.
 */
export const TAKE = `${LIVE_MEMBERS}
if redis.call('EXISTS', KEYS[2]) == 0 then return {} end
if redis.call('HGET', KEYS[2], 'open') ~= '1' and #live(ARGV[1], KEYS[1]) > 1 then return {} end
local entries = redis.call('XRANGE', KEYS[3], '-', '+')
if #entries == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('SREM', KEYS[4], ARGV[2])
  return {}
end
redis.call('HSET', KEYS[2], 'open', '0')
local out = {}
for _, e in ipairs(entries) do
  table.insert(out, e[1])
  table.insert(out, e[2][4])
end
return out
`;

/**
 * Open the mailbox of a durable name left without holder ([SB-6.3-1]), as RELEASE does with its release.
 * KEYS: the name's record, pool and mailbox hash; ARGV: prefix, the name, now (ms), the most mailboxes.
 * Returns 1 when the mailbox is open, 0 when the name has a live holder or too many mailboxes exist.
 */
export const OPEN = `${LIVE_MEMBERS}${MAILBOX}
if held(ARGV[1], KEYS[1], KEYS[2]) then return 0 end
open(ARGV[1], ARGV[2], KEYS[3], ARGV[3], ARGV[4])
return redis.call('EXISTS', KEYS[3])
`;

/**
 * Release a name held exclusively or as a pool member by this connection. KEYS: the name's record and
 * pool, its mailbox's hash, the set of mailboxes, its durable mark (which goes with the record), its
 * service contract and the set of services; ARGV: node, conn, member, prefix, whether to open a mailbox
 * ('1': a durable name lost its holder otherwise than by unregister), now (ms), the most mailboxes, the
 * name. When nobody holds the name any more, its contract goes ([SB-14-1]) and the mailbox opens if asked
 * ([SB-6.3-1]), or if it still has entries. Returns {1} when nobody holds it now, else {0}.
 */
export const RELEASE = `${LIVE_MEMBERS}${MAILBOX}
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + #ARGV[2] + 2) == ARGV[1] .. '|' .. ARGV[2] .. '|' then
  redis.call('DEL', KEYS[1], KEYS[5])
end
redis.call('SREM', KEYS[2], ARGV[3])
if held(ARGV[4], KEYS[1], KEYS[2]) then return {0} end
redis.call('DEL', KEYS[6])
redis.call('SREM', KEYS[7], ARGV[8])
-- A mailbox still holding entries its holder was not shown to have (DONE) opens again, durable or not.
if ARGV[5] == '1' or redis.call('EXISTS', KEYS[3]) == 1 then open(ARGV[4], ARGV[8], KEYS[3], ARGV[6], ARGV[7]) end
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
 * and stream; last, the byte count and the entry counter. ARGV: prefix, the body's bytes, maxMailboxSize,
 * maxMailboxBytes, maxMailboxBytesTotal, now (ms), then one item per name. Returns {'ok', id...} (each
 * name's entry id); {'full', i} (name i's mailbox is at a limit), {'total', i} (every mailbox together
 * would pass maxMailboxBytesTotal) ([SB-6.3-2]); or {'held', i} / {'gone', i} when name i was taken, or
 * its mailbox closed, since it was looked up.
 */
export const ENQUEUE = `${LIVE_MEMBERS}
local n = (#KEYS - 2) / 4
local bytes = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[#KEYS - 1]) or '0')
for i = 0, n - 1 do
  local k = i * 4
  if held(ARGV[1], KEYS[k + 1], KEYS[k + 2]) then return {'held', tostring(i + 1)} end
  if redis.call('HGET', KEYS[k + 3], 'open') ~= '1' then return {'gone', tostring(i + 1)} end
  local boxBytes = tonumber(redis.call('HGET', KEYS[k + 3], 'bytes') or '0')
  if redis.call('XLEN', KEYS[k + 4]) >= tonumber(ARGV[3]) or boxBytes + bytes > tonumber(ARGV[4]) then return {'full', tostring(i + 1)} end
  if total + bytes * (i + 1) > tonumber(ARGV[5]) then return {'total', tostring(i + 1)} end
end
local out = {'ok'}
for i = 0, n - 1 do
  local k = i * 4
  -- The id: this mailbox's last ms (never lower) and the cluster's next number, so unique and rising.
  local ms = math.max(tonumber(ARGV[6]), tonumber(redis.call('HGET', KEYS[k + 3], 'last') or '0'))
  local id = string.format('%.0f', ms) .. '-' .. redis.call('INCR', KEYS[#KEYS])
  redis.call('XADD', KEYS[k + 4], id, 'y', ARGV[2], 'i', ARGV[7 + i])
  redis.call('HINCRBY', KEYS[k + 3], 'bytes', bytes)
  redis.call('HSET', KEYS[k + 3], 'last', string.format('%.0f', ms))
  table.insert(out, id)
end
redis.call('INCRBY', KEYS[#KEYS - 1], bytes * n)
return out
`;

/**
 * The entries ARGV[2...] of the mailbox of the name ARGV[1] were written to its holder's socket: they go
 * ([SB-16-6]). KEYS: its hash, its stream, the set of mailboxes, the byte count. A closed mailbox left
 * empty goes too. Returns the bytes that went (an entry already gone counts nothing).
 */
export const DONE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local gone = 0
for i = 2, #ARGV do
  local e = redis.call('XRANGE', KEYS[2], ARGV[i], ARGV[i])
  if #e > 0 then
    gone = gone + tonumber(e[1][2][2])
    redis.call('XDEL', KEYS[2], ARGV[i])
  end
end
redis.call('HINCRBY', KEYS[1], 'bytes', -gone)
redis.call('DECRBY', KEYS[4], gone)
if redis.call('XLEN', KEYS[2]) == 0 and redis.call('HGET', KEYS[1], 'open') ~= '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[1])
end
return gone
`;

/**
 * Age the mailboxes ([SB-6.3-2], [SB-6.3-3]). KEYS: the set of mailboxes, the byte count; ARGV: prefix,
 * now (ms), maxMailboxAgeMs. Only open mailboxes age: a closed one whose name has no live holder (its
 * node died while delivering) opens again here. An entry leaves at its age, a queued request's slot at
 * its deadline (`e`), and an empty mailbox once it is as old as the age; from the head of each stream
 * only. ARGV[4]: how many mailboxes to describe. Returns two flat lists: per entry gone, its mailbox's
 * name and the item (each item is returned to one caller only); then the mailboxes that remain, counted
 * (how many, their entries, their bytes) and the first ARGV[4] described (name, entries, bytes, the
 * oldest entry's ms), for the monitor ([SB-16-6]).
 */
export const SWEEP = `${LIVE_MEMBERS}
local now = tonumber(ARGV[2])
local age = tonumber(ARGV[3])
local most = tonumber(ARGV[4])
local out = {}
local totals = {0, 0, 0}
local listed = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local box = ARGV[1] .. 'box:' .. name
  local stream = ARGV[1] .. 'boxq:' .. name
  local ages = redis.call('HGET', box, 'open') == '1'
  if not ages and not held(ARGV[1], ARGV[1] .. 'name:' .. name, ARGV[1] .. 'pool:' .. name) then
    redis.call('HSET', box, 'open', '1')
    ages = true
  end
  while ages do
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    if #head == 0 then break end
    local item = head[1][2][4]
    local cut = string.find(item, '\\n', 1, true)
    local header = cjson.decode(string.sub(item, 1, cut - 1))
    local ends = header.e or (header.t + age)
    -- Entries queue in the order they came, so the oldest is first. A request's slot that ends sooner
    -- behind one that has not is left for the claimer to drop (mailboxes.ts).
    if now < ends then break end
    redis.call('XDEL', stream, head[1][1])
    redis.call('HINCRBY', box, 'bytes', -header.y)
    redis.call('DECRBY', KEYS[2], header.y)
    table.insert(out, name)
    table.insert(out, item)
  end
  local depth = redis.call('XLEN', stream)
  if ages and depth == 0 and now - tonumber(redis.call('HGET', box, 'since') or '0') >= age then
    redis.call('DEL', box, stream)
    redis.call('SREM', KEYS[1], name)
  else
    local bytes = tonumber(redis.call('HGET', box, 'bytes') or '0')
    totals[1] = totals[1] + 1
    totals[2] = totals[2] + depth
    totals[3] = totals[3] + bytes
    if totals[1] <= most then
      local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
      local oldest = ''
      if #head > 0 then oldest = string.match(head[1][1], '^(%d+)') end
      for _, v in ipairs({name, tostring(depth), tostring(bytes), oldest}) do table.insert(listed, v) end
    end
  end
end
for i = 3, 1, -1 do table.insert(listed, 1, tostring(totals[i])) end
return {out, listed}
`;

/**
 * The live holders of names. KEYS: per name, its record, pool, counter, mailbox hash, durable mark and
 * busy marks; ARGV: prefix, now (ms), maxMailboxes, then the names. A durable name whose holder's node
 * lease ended without a release (the node died) gets its mailbox here ([SB-16-6]), and a closed one opens
 * again. Returns, per name, the record of its holder; or, for a pool, the list of its live members of
 * every node, sorted and rotated so that the one whose turn it is comes first ([SB-6.4-1]), the record of
 * a member whose node marked it busy (busy.ts) until later than now prefixed '!'; or 'mailbox' when nobody
 * holds it and it has a mailbox ([SB-6.3-1]); or '' when nobody holds it.
 */
export const LOOKUP = `${LIVE_MEMBERS}${MAILBOX}
local out = {}
for i = 1, #KEYS, 6 do
  local v = redis.call('GET', KEYS[i])
  local found = ''
  if v then
    local node = string.match(v, '^([^|]*)|')
    if node and redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 1 then found = v
    elseif redis.call('EXISTS', KEYS[i + 4]) == 1 or redis.call('EXISTS', KEYS[i + 3]) == 1 then
      -- A holder whose node died without releasing the name: its mailbox opens now if the name is
      -- durable, or if it still has entries the holder was not shown to have.
      open(ARGV[1], ARGV[4 + (i - 1) / 6], KEYS[i + 3], ARGV[2], ARGV[3])
      redis.call('DEL', KEYS[i], KEYS[i + 4])
    end
  end
  if found == '' then
    local members = live(ARGV[1], KEYS[i + 1])
    if #members > 0 then
      local first = (redis.call('INCR', KEYS[i + 2]) - 1) % #members
      found = {}
      for k = 0, #members - 1 do
        local member = members[(first + k) % #members + 1]
        local busy = redis.call('HGET', KEYS[i + 5], member)
        if busy and tonumber(busy) > tonumber(ARGV[2]) then member = '!' .. member
        elseif busy then redis.call('HDEL', KEYS[i + 5], member) end
        table.insert(found, member)
      end
    elseif redis.call('EXISTS', KEYS[i + 3]) == 1 then
      -- Closed, with entries, by a pool whose members all died: open again.
      if redis.call('HGET', KEYS[i + 3], 'open') ~= '1' then open(ARGV[1], ARGV[4 + (i - 1) / 6], KEYS[i + 3], ARGV[2], ARGV[3]) end
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
