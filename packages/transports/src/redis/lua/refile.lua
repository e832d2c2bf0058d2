--[[
  Replaces a queue's record and re-files its ready messages under the priorities the new record
  gives them, in one step, so a maxPriority change is made in place with every message kept exactly
  once (a concurrent claim or push runs before or after, never in between).

  A message's own priority is its Wakame extra (properties.wakame.priority) when present, else the
  one its kombu priority says (k > 0 reads as 9 - k). Its new wire priority is 9 - min(own, max)
  (0 on a queue without priorities) and its list the largest step not above that. Elements in
  Wakame's own format get the new wire priority written (kombu's restore re-files by it), plus the
  Wakame extra where the wire priority no longer says the message's own; other elements move
  unchanged. Order within a list is kept: elements are taken in consumption order (step by step,
  right to left) and pushed so they are consumed in that order.

  KEYS[1] the queue records (_wakame.queues)
  KEYS[2] the revision counter
  KEYS[3..] the queue's lists, in step order (kombu's first step first)

  ARGV[1] the queue
  ARGV[2] the new record (JSON), or '' to leave the records alone (the cluster layout: they are in
          another hash slot and written after; KEYS[1] and KEYS[2] are then never touched)
  ARGV[3] the new maxPriority, or '' for none
  ARGV[4..] the priority steps, in the order of KEYS[3..]

  Returns how many elements changed list.
]]
local max = tonumber(ARGV[3])
local steps = {}
for i = 4, #ARGV do steps[#steps + 1] = tonumber(ARGV[i]) end

local function kombuOf(p)
  local t = p >= 0 and math.floor(p) or math.ceil(p)
  return 9 - math.min(math.max(t, 0), 9)
end
local function fromKombu(k)
  if type(k) ~= 'number' or k <= 0 or k ~= math.floor(k) then return nil end
  return kombuOf(k)
end
local function stepIndex(wire)
  local p = math.min(math.max(wire, 0), 9)
  local chosen = 1
  for i, s in ipairs(steps) do if s <= p then chosen = i end end
  return chosen
end
local function lastFind(s, pattern, plain)
  local at, stop, capture
  local from = 1
  while true do
    local a, b, c = string.find(s, pattern, from, plain)
    if not a then return at, stop, capture end
    at, stop, capture = a, b, c
    from = a + 1
  end
end

local TAIL = ', "priority": (%-?%d+), "body_encoding": "'
local out = {}
for i = 3, #KEYS do out[i - 2] = {} end
local moved = 0
for i = 3, #KEYS do
  local items = redis.call('LRANGE', KEYS[i], 0, -1)
  for j = #items, 1, -1 do
    local raw = items[j]
    local target = i - 2
    local ok, env = pcall(cjson.decode, raw)
    local props = ok and type(env) == 'table' and env.properties
    if type(props) == 'table' then
      local extras = props.wakame
      local hasExtra = type(extras) == 'table' and extras.priority ~= nil
      local own
      if hasExtra then
        if type(extras.priority) == 'number' then own = extras.priority end
      else
        own = fromKombu(props.priority)
      end
      local wire = 0
      if max then wire = kombuOf(math.min(own or 0, max)) end
      target = stepIndex(wire)
      local s, e, old = lastFind(raw, TAIL, false)
      if s and tonumber(old) ~= wire then
        raw = string.sub(raw, 1, s - 1) .. ', "priority": ' .. wire .. ', "body_encoding": "' .. string.sub(raw, e + 1)
        if not hasExtra and own ~= fromKombu(wire) then
          local value = own == nil and 'null' or string.format('%d', own)
          local w = lastFind(raw, '"wakame": {', true)
          if w then
            local cut = w + string.len('"wakame": {') - 1
            raw = string.sub(raw, 1, cut) .. '"priority": ' .. value .. ', ' .. string.sub(raw, cut + 1)
          else
            local p = lastFind(raw, '"properties": {', true)
            if p then
              local cut = p + string.len('"properties": {') - 1
              raw = string.sub(raw, 1, cut) .. '"wakame": {"priority": ' .. value .. '}, ' .. string.sub(raw, cut + 1)
            end
          end
        end
      end
    end
    if target ~= i - 2 then moved = moved + 1 end
    local list = out[target]
    list[#list + 1] = raw
  end
end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
for t, items in ipairs(out) do
  -- LPUSH in consumption order leaves the first to be consumed at the right end, where claims pop.
  for c = 1, #items, 4000 do
    redis.call('LPUSH', KEYS[t + 2], unpack(items, c, math.min(c + 3999, #items)))
  end
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('INCR', KEYS[2])
end
return moved
