--[[
  Counts one consumer of this process out of a queue's consumer counter, removing
  the field at zero.

  KEYS[1] the queue's consumer counter (_wakame.consumers.<queue>)

  ARGV[1] this store's owner id

  Returns the count left.
]]
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
