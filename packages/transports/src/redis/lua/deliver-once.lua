--[[
  Pushes a message received on a PUB/SUB channel into a queue once, however many
  processes consume that queue.

  KEYS[1] the once-only marker
  KEYS[2] the list

  ARGV[1] the element
  ARGV[2] the marker's life (ms)

  Returns 1 when pushed, else 0.
]]
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
