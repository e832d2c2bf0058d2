--[[
  Claims up to ARGV[3] messages from the lists KEYS[5..] in order (a queue's priority lists, kombu's
  first step first), popping and recording them in one step.

  KEYS (common to the message scripts):
    KEYS[1] unacked         hash tag -> [envelope, exchange, routing_key] (kombu's shape)
    KEYS[2] unacked_index   zset tag -> time (kombu's shape)
    KEYS[3] _wakame.leases  hash tag -> <owner><SEP><list>
    KEYS[4] the corrupt list: receives elements that are not kombu envelopes
    KEYS[5..] the queue's lists

  Three writes per message, no more: the lease names the owner, so what an owner holds is found by
  scanning the lease hash (only after a reconnect), not kept in a set of its own written per claim.

  ARGV[1] owner
  ARGV[2] now in seconds (kombu's time.time())
  ARGV[3] max messages
  ARGV[4] (optional) the receiver's body bound in bytes

  Returns {moved_aside, listIndex, element, ...}; a message whose body is over the bound comes back
  as -listIndex, bodyBytes, element without its body. See scripts.ts for the rationale.
]]
local max = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local BODY = '{"body": "'
local out = {0}
local records, scores, leases = {}, {}, {}
local n = 0
local TAIL_SPAN = 256
local INFO = '"delivery_info": {"exchange": "'
local TAIL = '^"delivery_info": {"exchange": "([^"\\]*)", "routing_key": "([^"\\]*)"[^{}]*}, "priority": %-?%d+, "body_encoding": "([%w%-]*)", "delivery_tag": "([^"\\]*)"}}$'
for i = 5, #KEYS do
  local lease = ARGV[1] .. '\6\22' .. KEYS[i]
  while n < max do
    local popped = redis.call('RPOP', KEYS[i], max - n)
    if not popped then break end
    for _, raw in ipairs(popped) do
      -- A plain find, then a match anchored there: an unanchored match retries at every quote. The
      -- tail is short, so the find starts near the end (the body before it can be long); a longer
      -- tail (long names) is found by the second find from the start.
      local at = string.find(raw, INFO, math.max(1, #raw - TAIL_SPAN), true) or string.find(raw, INFO, 1, true)
      local ex, rk, enc, tag
      if at then ex, rk, enc, tag = string.match(raw, TAIL, at) end
      local record
      if tag then
        record = '[' .. raw .. ', "' .. ex .. '", "' .. rk .. '"]'
      else
        local ok, env = pcall(cjson.decode, raw)
        local props = ok and type(env) == 'table' and env.properties
        tag = type(props) == 'table' and props.delivery_tag
        if type(tag) == 'string' then
          enc = props.body_encoding
          local info = props.delivery_info
          ex, rk = '', ''
          if type(info) == 'table' then
            if type(info.exchange) == 'string' then ex = info.exchange end
            if type(info.routing_key) == 'string' then rk = info.routing_key end
          end
          record = '[' .. raw .. ', ' .. cjson.encode(ex) .. ', ' .. cjson.encode(rk) .. ']'
        else
          tag = nil
        end
      end
      if tag then
        n = n + 1
        records[#records + 1] = tag
        records[#records + 1] = record
        scores[#scores + 1] = ARGV[2]
        scores[#scores + 1] = tag
        leases[#leases + 1] = tag
        leases[#leases + 1] = lease
        -- Only an element longer than the bound can hold a body over it (base64 is longer than its bytes).
        local withheld
        if limit and #raw > limit and enc == 'base64' and string.sub(raw, 1, #BODY) == BODY then
          local e = string.find(raw, '"', #BODY + 1, true)
          if e then
            local len = e - #BODY - 1
            local pad = 0
            if len > 0 and string.byte(raw, e - 1) == 61 then pad = pad + 1 end
            if len > 1 and string.byte(raw, e - 2) == 61 then pad = pad + 1 end
            local bytes = math.floor(len / 4) * 3 - pad
            if bytes > limit then withheld = {bytes, BODY .. string.sub(raw, e)} end
          end
        end
        if withheld then
          out[#out + 1] = 4 - i
          out[#out + 1] = withheld[1]
          out[#out + 1] = withheld[2]
        else
          out[#out + 1] = i - 4
          out[#out + 1] = raw
        end
      else
        redis.call('LPUSH', KEYS[4], raw)
        out[1] = out[1] + 1
      end
    end
  end
end
if n > 0 then
  redis.call('HSET', KEYS[1], unpack(records))
  redis.call('ZADD', KEYS[2], unpack(scores))
  redis.call('HSET', KEYS[3], unpack(leases))
end
return out
