--[[
  Deletes an expiring queue whose use marker lapsed (its record and its lists), atomically
  with the check, so a redeclaration in the meantime keeps it.

  KEYS[1] the use marker
  KEYS[2] the queue records (_wakame.queues)
  KEYS[3] the revision counter
  KEYS[4..] the queue's lists

  ARGV[1] the queue

  Returns 1 when it deleted, else 0.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
for i = 4, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('INCR', KEYS[3])
return 1
