--[[
  Finds in-flight messages that may be restored, oldest first; cleans up index entries whose
  record vanished.

  KEYS (common to the message scripts):
    KEYS[1] unacked         hash tag -> [envelope, exchange, routing_key] (kombu's shape)
    KEYS[2] unacked_index   zset tag -> time (kombu's shape)
    KEYS[3] _wakame.leases  hash tag -> <owner><SEP><list>

  ARGV[1] lease cutoff (seconds)
  ARGV[2] visibility cutoff (seconds; messages a kombu consumer holds)
  ARGV[3] offset
  ARGV[4] page size
  ARGV[5] owner-key prefix

  Returns {tag, unacked record, lease or '', ...}.
]]
local tags = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
local out = {}
for _, tag in ipairs(tags) do
  local record = redis.call('HGET', KEYS[1], tag)
  local lease = redis.call('HGET', KEYS[3], tag)
  if not record then
    redis.call('ZREM', KEYS[2], tag)
    if lease then redis.call('HDEL', KEYS[3], tag) end
  elseif lease then
    local owner = string.match(lease, '^(.-)\6\22')
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
