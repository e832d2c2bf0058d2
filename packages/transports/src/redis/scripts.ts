/**
 * The Lua scripts behind every state change of a message. Each runs atomically in Redis, which is
 * what kombu lacks: its consumer `BRPOP`s a message and records it as unacked in a second round
 * trip, so a crash in between loses the message. Here pop and record are one step, and so are
 * settle and restore (a message is never both in a queue and in `unacked`).
 *
 * Common keys: 1 `unacked` (hash tag → `[envelope, exchange, routing_key]`, kombu's shape),
 * 2 `unacked_index` (zset tag → time, kombu's shape; Wakame renews the score while it holds a message,
 * so kombu's own visibility-timeout restore leaves it alone too), 3 `_wakame.leases` (tag →
 * `<owner><SEP><list>`), 4 the owner's `_wakame.owned.<owner>` set.
 */
import type { Redis } from 'ioredis';

/**
 * Claims up to ARGV[3] messages from KEYS[6..] in order (a queue's priority lists, kombu's first
 * step first). ARGV: 1 owner, 2 now in seconds (kombu's `time.time()`), 3 max, 4 (optional) the
 * receiver's body bound in bytes. KEYS[5] receives elements that are not kombu envelopes. Returns
 * `[moved_aside, listIndex, element, …]`; a message whose body is over the bound is claimed all
 * the same but comes back as `-listIndex, bodyBytes, element without its body`: the body never leaves
 * Redis (the envelope starts with the body, as kombu and Wakame write it, and a base64 body's size
 * follows from its length, so it is measured without decoding anything).
 *
 * Cost matters here (it bounds a consumer's throughput), hence: one `RPOP count` per list, one
 * variadic write per key for the whole batch, and the tag, exchange and routing key read from the
 * tail kombu and Wakame both write (`… "delivery_info": {…}, "priority": n, "body_encoding": …,
 * "delivery_tag": "…"}}`) with a pattern; only other shapes pay for a JSON decode.
 */
export const CLAIM = `
local max = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local BODY = '{"body": "'
local out = {0}
local records, scores, leases, tags = {}, {}, {}, {}
local n = 0
local TAIL_SPAN = 256
local INFO = '"delivery_info": {"exchange": "'
local TAIL = '^"delivery_info": {"exchange": "([^"\\\\]*)", "routing_key": "([^"\\\\]*)"[^{}]*}, "priority": %-?%d+, "body_encoding": "([%w%-]*)", "delivery_tag": "([^"\\\\]*)"}}$'
for i = 6, #KEYS do
  local lease = ARGV[1] .. '\\6\\22' .. KEYS[i]
  while n < max do
    local popped = redis.call('RPOP', KEYS[i], max - n)
    if not popped then break end
    for _, raw in ipairs(popped) do
      -- A plain find, then a match anchored there: an unanchored match retries at every quote. The
      -- tail is short, so the find starts near the end (the body before it can be long); a longer
      -- tail (long names) is found by the second find from the start.
      local at = string.find(raw, INFO, math.max(1, #raw - TAIL_SPAN), true) or string.find(raw, INFO, 1, true)
      local ex, rk, enc, tag
      if at then ex, rk, enc, tag = string.match(raw, TAIL, at) end
      local record
      if tag then
        record = '[' .. raw .. ', "' .. ex .. '", "' .. rk .. '"]'
      else
        local ok, env = pcall(cjson.decode, raw)
        local props = ok and type(env) == 'table' and env.properties
        tag = type(props) == 'table' and props.delivery_tag
        if type(tag) == 'string' then
          enc = props.body_encoding
          local info = props.delivery_info
          ex, rk = '', ''
          if type(info) == 'table' then
            if type(info.exchange) == 'string' then ex = info.exchange end
            if type(info.routing_key) == 'string' then rk = info.routing_key end
          end
          record = '[' .. raw .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
        else
          tag = nil
        end
      end
      if tag then
        n = n + 1
        records[#records + 1] = tag
        records[#records + 1] = record
        scores[#scores + 1] = ARGV[2]
        scores[#scores + 1] = tag
        leases[#leases + 1] = tag
        leases[#leases + 1] = lease
        tags[n] = tag
        -- Only an element longer than the bound can hold a body over it (base64 is longer than its bytes).
        local withheld
        if limit and #raw > limit and enc == 'base64' and string.sub(raw, 1, #BODY) == BODY then
          local e = string.find(raw, '"', #BODY + 1, true)
          if e then
            local len = e - #BODY - 1
            local pad = 0
            if len > 0 and string.byte(raw, e - 1) == 61 then pad = pad + 1 end
            if len > 1 and string.byte(raw, e - 2) == 61 then pad = pad + 1 end
            local bytes = math.floor(len / 4) * 3 - pad
            if bytes > limit then withheld = {bytes, BODY .. string.sub(raw, e)} end
          end
        end
        if withheld then
          out[#out + 1] = 5 - i
          out[#out + 1] = withheld[1]
          out[#out + 1] = withheld[2]
        else
          out[#out + 1] = i - 5
          out[#out + 1] = raw
        end
      else
        redis.call('LPUSH', KEYS[5], raw)
        out[1] = out[1] + 1
      end
    end
  end
end
if n > 0 then
  redis.call('HSET', KEYS[1], unpack(records))
  redis.call('ZADD', KEYS[2], unpack(scores))
  redis.call('HSET', KEYS[3], unpack(leases))
  redis.call('SADD', KEYS[4], unpack(tags))
end
return out
`;

/** Acknowledges the tags in ARGV: the message is gone for good. Returns how many were still held. */
export const ACK = `
local n = redis.call('HDEL', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
redis.call('HDEL', KEYS[3], unpack(ARGV))
redis.call('SREM', KEYS[4], unpack(ARGV))
return n
`;

/**
 * Returns held messages to the front of their lists (RPUSH: consumed next). ARGV is triples of
 * tag, list key, element. A tag no longer held (restored by another process after the lease ran out)
 * is skipped, so a message is never queued twice. Returns how many went back.
 */
export const REQUEUE = `
local n = 0
for i = 1, #ARGV, 3 do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('SREM', KEYS[4], ARGV[i])
    redis.call('RPUSH', ARGV[i + 1], ARGV[i + 2])
    n = n + 1
  end
end
return n
`;

/**
 * Finds in-flight messages that may be restored, oldest first. ARGV: 1 lease cutoff (seconds; a
 * Wakame holder renews its scores, so an older one stopped), 2 visibility cutoff (for messages a
 * kombu consumer holds: kombu never renews, so only its visibility timeout applies), 3 offset,
 * 4 page size, 5 owner-key prefix. A Wakame-held message qualifies only when its owner's liveness key
 * is gone too. Index entries whose record vanished (a half-finished kombu ack) are cleaned up.
 * Returns `[tag, unacked record, lease or '', …]`.
 */
export const RESTORABLE = `
local tags = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
local out = {}
for _, tag in ipairs(tags) do
  local record = redis.call('HGET', KEYS[1], tag)
  local lease = redis.call('HGET', KEYS[3], tag)
  if not record then
    redis.call('ZREM', KEYS[2], tag)
    if lease then redis.call('HDEL', KEYS[3], tag) end
  elseif lease then
    local owner = string.match(lease, '^(.-)\\6\\22')
    if owner and redis.call('EXISTS', ARGV[5] .. owner) == 0 then
      out[#out + 1] = tag
      out[#out + 1] = record
      out[#out + 1] = lease
    end
  elseif tonumber(redis.call('ZSCORE', KEYS[2], tag)) <= tonumber(ARGV[2]) then
    out[#out + 1] = tag
    out[#out + 1] = record
    out[#out + 1] = ''
  end
end
return out
`;

/**
 * Restores one message found by {@link RESTORABLE}, if nothing changed meanwhile. ARGV: 1 tag,
 * 2 the lease seen ('' for none), 3 the owner's liveness key ('' to skip the check), 4 the owner's
 * owned-set key ('' for none), then pairs of list key and element. Returns 1 when restored.
 */
export const RESTORE = `
local lease = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if lease ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3]) == 1 then return 0 end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('SREM', ARGV[4], ARGV[1]) end
for i = 5, #ARGV, 2 do redis.call('RPUSH', ARGV[i], ARGV[i + 1]) end
return 1
`;

/**
 * Deletes an expiring queue whose use marker lapsed (its record and its lists), atomically with the
 * check, so a redeclaration (which sets the marker) in the meantime keeps it. KEYS: 1 the marker,
 * 2 the queue records, 3 the revision counter, 4.. the queue's lists; ARGV: 1 the queue. Returns 1
 * when it deleted.
 */
export const EXPIRE_QUEUE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('INCR', KEYS[3])
return 1
`;

/**
 * Pushes a message received on a PUB/SUB channel into a queue once, however many processes consume
 * that queue. KEYS: 1 the once-only marker, 2 the list; ARGV: 1 the element, 2 the marker's life (ms).
 */
export const DELIVER_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
`;

/** Deletes every list in KEYS and returns how many elements they held. */
export const PURGE = `
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('LLEN', KEYS[i])
  redis.call('DEL', KEYS[i])
end
return n
`;

/** Total length of the lists in KEYS. */
export const SIZE = `
local n = 0
for i = 1, #KEYS do n = n + redis.call('LLEN', KEYS[i]) end
return n
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

/** A client with the scripts above defined as commands (`EVALSHA`, falling back to `EVAL` once). */
export type ScriptedRedis = Redis & {
  wakameCLAIM: Script;
  wakameACK: Script;
  wakameREQUEUE: Script;
  wakameRESTORABLE: Script;
  wakameRESTORE: Script;
  wakamePURGE: Script;
  wakameSIZE: Script;
  wakameEXPIREQUEUE: Script;
  wakameDELIVERONCE: Script;
};

/** Defines every script on `redis` (idempotent). */
export function defineScripts(redis: Redis): ScriptedRedis {
  const scripts = {
    CLAIM,
    ACK,
    REQUEUE,
    RESTORABLE,
    RESTORE,
    PURGE,
    SIZE,
    EXPIREQUEUE: EXPIRE_QUEUE,
    DELIVERONCE: DELIVER_ONCE,
  };
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(`wakame${name}` in redis)) redis.defineCommand(`wakame${name}`, { lua });
  }
  return redis as ScriptedRedis;
}
