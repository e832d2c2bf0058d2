--[[
  Deletes a stack's apply lock if it is still ours.

  KEYS[1] the lock (_wakame.lock.<stack>)

  ARGV[1] our lock value

  Returns 1 when deleted, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
