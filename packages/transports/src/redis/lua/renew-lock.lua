--[[
  Extends a stack's apply lock if it is still ours.

  KEYS[1] the lock (_wakame.lock.<stack>)

  ARGV[1] our lock value
  ARGV[2] the lease (ms)

  Returns 1 when renewed, else 0.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
