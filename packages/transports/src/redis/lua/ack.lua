--[[
  Acknowledges the tags in ARGV: the messages are gone for good.

  KEYS (common to the message scripts):
    KEYS[1] unacked         hash tag -> [envelope, exchange, routing_key] (kombu's shape)
    KEYS[2] unacked_index   zset tag -> time (kombu's shape)
    KEYS[3] _wakame.leases  hash tag -> <owner><SEP><list>

  ARGV[1..] delivery tags

  Returns how many were still held.
]]
local n = redis.call('HDEL', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
redis.call('HDEL', KEYS[3], unpack(ARGV))
return n
