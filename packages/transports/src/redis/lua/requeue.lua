--[[
  Returns held messages to the front of their lists (RPUSH: consumed next). A tag no longer
  held is skipped, so a message is never queued twice.

  KEYS (common to the message scripts):
    KEYS[1] unacked         hash tag -> [envelope, exchange, routing_key] (kombu's shape)
    KEYS[2] unacked_index   zset tag -> time (kombu's shape)
    KEYS[3] _wakame.leases  hash tag -> <owner><SEP><list>

  ARGV triples: tag, list key, element

  Returns how many went back.
]]
local n = 0
for i = 1, #ARGV, 3 do
  if redis.call('HDEL', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZREM', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('RPUSH', ARGV[i + 1], ARGV[i + 2])
    n = n + 1
  end
end
return n
