--[[
  Deletes every list in KEYS.

  KEYS[1..] the lists

  ARGV: none

  Returns how many elements they held.
]]
local n = 0
for i = 1, #KEYS do
  n = n + redis.call('LLEN', KEYS[i])
  redis.call('DEL', KEYS[i])
end
return n
