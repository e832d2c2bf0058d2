--[[
  Restores one message found by restorable.lua, if nothing changed meanwhile.

  KEYS (common to the message scripts):
    KEYS[1] unacked         hash tag -> [envelope, exchange, routing_key] (kombu's shape)
    KEYS[2] unacked_index   zset tag -> time (kombu's shape)
    KEYS[3] _wakame.leases  hash tag -> <owner><SEP><list>

  ARGV[1] tag
  ARGV[2] the lease seen ('' for none)
  ARGV[3] the owner's liveness key ('' to skip the check)
  ARGV[4..] pairs of list key and element

  Returns 1 when restored, else 0.
]]
local lease = redis.call('HGET', KEYS[3], ARGV[1]) or ''
if lease ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and redis.call('EXISTS', ARGV[3]) == 1 then return 0 end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
for i = 4, #ARGV, 2 do redis.call('RPUSH', ARGV[i], ARGV[i + 1]) end
return 1
