--[[
  Total length of the lists in KEYS.

  KEYS[1..] the lists

  ARGV: none

  Returns the total.
]]
local n = 0
for i = 1, #KEYS do n = n + redis.call('LLEN', KEYS[i]) end
return n
