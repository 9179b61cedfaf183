/**
 * The Redis store's layout and its Lua scripts (each runs atomically in Redis).
 *
 * Every key of a tenant starts with `<prefix>:{<tenant>}:` (the braces are a Redis Cluster hash
 * tag: a tenant's keys share one slot, so a script may touch any of them). Ids are URI-encoded in
 * keys, so no id can reach another's key whatever characters it holds.
 *
 *   <p>:schema                      the layout version (REDIS_SCHEMA_VERSION)
 *   <p>:tenants                     set of tenant ids (for listing every tenant's sessions)
 *   <p>:approvals                   hash approval id -> tenant id (ids are looked up alone)
 *   <p>:approval-order              list of approval ids, oldest first (both: an id whose record
 *                                   expired is dropped by the next lookup or listing that finds it gone)
 *   <p>:{t}:sessions                sorted set session id by updatedAt
 *   <p>:{t}:s:<s>:log               stream of the session's events, entry id `<seq>-0`, field `e`
 *   <p>:{t}:s:<s>:rec               hash: record (the SessionRecord JSON), last (last seq), fin (1: TTL set)
 *   <p>:{t}:s:<s>:res               hash: open reservations, key -> "<n> <json>"
 *   <p>:{t}:s:<s>:aprs              list of the session's approval ids
 *   <p>:{t}:apr:<id>                an approval record (JSON)
 *   <p>:{t}:a:s:<s> | a:t | a:b:<b> ledger accounts (session, tenant, named budget): hashes of amounts
 *
 * Amounts are stored as `%.17g` strings and added as doubles in Lua, so sums are exactly the ones
 * the memory and SQLite ledgers compute.
 */

export const REDIS_SCHEMA_VERSION = 1;

const enc = encodeURIComponent;

/** The key prefix of a tenant: `<prefix>:{<tenant>}`. */
export const tenantBase = (prefix: string, tenantId: string) => `${prefix}:{${enc(tenantId)}}`;
export const sessionBase = (prefix: string, tenantId: string, sessionId: string) =>
  `${tenantBase(prefix, tenantId)}:s:${enc(sessionId)}`;
export const budgetSuffix = (account: string) => `a:b:${enc(account)}`;

const ACCOUNT_HELPERS = `
local function num(key, field) return tonumber(redis.call('HGET', key, field) or '0') or 0 end
local function fmt(x) return string.format('%.17g', x) end
`;

/**
 * Appends a session's events and closes its settled reservations, atomically.
 * ARGV: base(tenant), base(session), expectedLast, newLast, record JSON, updatedAt, sessionId,
 * ttlSeconds, finished (1|0), nEvents, [seq, body]*, ledger ops JSON.
 * Refuses (before writing anything) when the session's last seq is not `expectedLast` (another
 * writer appended) or a reservation to close is not open.
 */
const COMMIT = `${ACCOUNT_HELPERS}
local tbase, sbase = ARGV[1], ARGV[2]
local log, rec, res, aprs = sbase .. ':log', sbase .. ':rec', sbase .. ':res', sbase .. ':aprs'
local n = tonumber(ARGV[10])
if n > 0 then
  local last = tonumber(redis.call('HGET', rec, 'last') or '0')
  if last ~= tonumber(ARGV[3]) then
    return redis.error_reply('REIN_CONFLICT the session was appended to by another writer: its last seq is ' .. last .. ', this writer expected ' .. ARGV[3])
  end
end
local ops = cjson.decode(ARGV[11 + 2 * n])
local closing = {}
for i, op in ipairs(ops) do
  local v = redis.call('HGET', res, op.key)
  if not v or closing[op.key] then
    return redis.error_reply('REIN_NO_RESERVATION no open reservation ' .. op.key)
  end
  closing[op.key] = true
  local sp = string.find(v, ' ')
  op.r = cjson.decode(string.sub(v, sp + 1))
end
for i = 1, n do
  redis.call('XADD', log, ARGV[9 + 2 * i] .. '-0', 'e', ARGV[10 + 2 * i])
end
local sacc = tbase .. ':a:s:' .. string.sub(sbase, string.len(tbase) + 4)
for i, op in ipairs(ops) do
  redis.call('HDEL', res, op.key)
  local accs = { sacc, tbase .. ':a:t' }
  for j, b in ipairs(op.r.budgets) do accs[#accs + 1] = tbase .. ':' .. b end
  for j, acc in ipairs(accs) do
    local open = num(acc, 'open') - 1
    local ru, rt = 0, 0
    if open > 0 then
      ru = num(acc, 'reserved_usd') - op.r.usd
      rt = num(acc, 'reserved_tokens') - op.r.tokens
    end
    redis.call('HSET', acc,
      'cost', fmt(num(acc, 'cost') + op.cost), 'input', fmt(num(acc, 'input') + op.input),
      'output', fmt(num(acc, 'output') + op.output), 'cache_read', fmt(num(acc, 'cache_read') + op.cacheRead),
      'cache_write', fmt(num(acc, 'cache_write') + op.cacheWrite), 'tokens', fmt(num(acc, 'tokens') + op.tokens),
      'calls', fmt(num(acc, 'calls') + op.calls), 'open', fmt(open), 'reserved_usd', fmt(ru), 'reserved_tokens', fmt(rt))
  end
end
if n > 0 then
  redis.call('HSET', rec, 'record', ARGV[5], 'last', ARGV[4])
  redis.call('ZADD', tbase .. ':sessions', ARGV[6], ARGV[7])
  -- The TTL changes only when the session becomes finished or stops being so (field fin).
  local ttl = tonumber(ARGV[8])
  local want = '0'
  if ARGV[9] == '1' and ttl > 0 then want = '1' end
  if (redis.call('HGET', rec, 'fin') or '0') ~= want then
    redis.call('HSET', rec, 'fin', want)
    local keys = { log, rec, res, aprs, sacc }
    for _, id in ipairs(redis.call('LRANGE', aprs, 0, -1)) do keys[#keys + 1] = tbase .. ':apr:' .. id end
    for _, k in ipairs(keys) do
      if want == '1' then redis.call('EXPIRE', k, ttl) else redis.call('PERSIST', k) end
    end
  end
end
return 'OK'
`;

/**
 * Checks the ceilings and reserves, atomically (every process shares the budget).
 * ARGV: base(tenant), sessionId (encoded), key, runId or '', reservation JSON
 * ({model, usd, tokens, budgets}), ceilings JSON ([{acc: 'run'|'session'|suffix, usd?, tokens?}]).
 * Returns 'open' (the key is already open), {'refused', i, cost, tokens, reservedUsd, reservedTokens}
 * for the first ceiling crossed (i from 1), or 'OK'.
 */
const RESERVE = `${ACCOUNT_HELPERS}
local tbase, s, key, runId = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local r = cjson.decode(ARGV[5])
local ceilings = cjson.decode(ARGV[6])
local sacc, tacc, res = tbase .. ':a:s:' .. s, tbase .. ':a:t', tbase .. ':s:' .. s .. ':res'
if redis.call('HEXISTS', res, key) == 1 then return 'open' end
if runId ~= '' and redis.call('HGET', sacc, 'run_id') ~= runId then
  redis.call('HSET', sacc, 'run_id', runId, 'run_base_usd', fmt(num(sacc, 'cost')), 'run_base_tokens', fmt(num(sacc, 'tokens')))
end
for i, c in ipairs(ceilings) do
  local acc = sacc
  if c.acc ~= 'run' and c.acc ~= 'session' then acc = tbase .. ':' .. c.acc end
  local cost, tokens = num(acc, 'cost'), num(acc, 'tokens')
  if c.acc == 'run' then
    cost = cost - num(acc, 'run_base_usd')
    tokens = tokens - num(acc, 'run_base_tokens')
  end
  local ru, rt = math.max(0, num(acc, 'reserved_usd')), math.max(0, num(acc, 'reserved_tokens'))
  local overUsd = c.usd ~= nil and cost + ru + r.usd > c.usd
  local overTokens = c.tokens ~= nil and tokens + rt + r.tokens > c.tokens
  if overUsd or overTokens then return { 'refused', i, fmt(cost), fmt(tokens), fmt(ru), fmt(rt) } end
end
local nres = redis.call('HINCRBY', sacc, 'resn', 1)
redis.call('HSET', res, key, nres .. ' ' .. ARGV[5])
local accs = { sacc, tacc }
for j, b in ipairs(r.budgets) do accs[#accs + 1] = tbase .. ':' .. b end
for j, acc in ipairs(accs) do
  redis.call('HSET', acc, 'reserved_usd', fmt(num(acc, 'reserved_usd') + r.usd),
    'reserved_tokens', fmt(num(acc, 'reserved_tokens') + r.tokens), 'open', fmt(num(acc, 'open') + 1))
end
return 'OK'
`;

/** Compare-and-set of a JSON record. ARGV: key, expected, next. Returns 1, or the current value. */
const CAS = `
local cur = redis.call('GET', ARGV[1])
if cur ~= ARGV[2] then return cur or false end
redis.call('SET', ARGV[1], ARGV[3], 'KEEPTTL')
return 1
`;

/** Creates an approval record once. ARGV: key, JSON, the session's approval list, id. Returns 1, or 0 when the id exists. */
const CREATE_APPROVAL = `
if redis.call('SET', ARGV[1], ARGV[2], 'NX') == false then return 0 end
redis.call('RPUSH', ARGV[3], ARGV[4])
return 1
`;

export const SCRIPTS = {
  reinCommit: COMMIT,
  reinReserve: RESERVE,
  reinCas: CAS,
  reinCreateApproval: CREATE_APPROVAL,
} as const;
