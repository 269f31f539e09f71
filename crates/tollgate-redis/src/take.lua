-- Takes ARGV[1] (the cost) from every key's allowance, all or nothing, on the server's clock.
-- Per key i, ARGV[2 + 4(i-1) ...] = algorithm ("gcra" | "fixed" | "sliding"), limit, window
-- and offset in microseconds. Mirrors tollgate-core's rate.rs (there in nanoseconds).
-- Returns, per key evaluated (stopping after the first refusal): allowed (0/1), remaining,
-- reset_after and retry_after in microseconds (-1: never).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local function idiv(a, b) return math.floor(a / b) end
local function int(x) return string.format('%.0f', x) end
local out, writes, all = {}, {}, true

for i, key in ipairs(KEYS) do
  local base = 2 + (i - 1) * 4
  local algo, limit = ARGV[base], tonumber(ARGV[base + 1])
  local window, offset = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local raw = redis.call('GET', key)
  local allowed, remaining, reset, retry

  if algo == 'gcra' then
    local interval = math.max(idiv(window, limit), 1)
    local burst = interval * limit
    -- a value that is not a number (another algorithm's state) reads as a fresh key
    local tat = math.max(tonumber(raw) or 0, now)
    local function remaining_at(x)
      local used = math.max(x - now, 0)
      return math.min(idiv(math.max(burst - used, 0), interval), limit)
    end
    local new_tat = tat + interval * cost
    local allow_at = math.max(new_tat - burst, 0)
    if cost > limit then
      allowed, remaining, reset, retry = 0, remaining_at(tat), tat - now, -1
    elseif now < allow_at then
      allowed, remaining, reset, retry = 0, remaining_at(tat), tat - now, allow_at - now
    else
      allowed, remaining, reset, retry = 1, remaining_at(new_tat), new_tat - now, -1
      writes[#writes + 1] = {key, int(new_tat), math.ceil((new_tat - now) / 1000) + 1}
    end

  elseif algo == 'fixed' then
    local at = now + offset
    local index = idiv(at, window)
    local count = 0
    if raw then
      local stored_index, stored_count = string.match(raw, '^(%d+):(%d+)$')
      if tonumber(stored_index) == index then count = tonumber(stored_count) end
    end
    reset = (index + 1) * window - at
    if count + cost <= limit then
      allowed, count = 1, count + cost
      writes[#writes + 1] = {key, int(index) .. ':' .. int(count), math.ceil(reset / 1000) + 1}
    else
      allowed = 0
    end
    remaining = math.max(limit - count, 0)
    if allowed == 1 or cost > limit then retry = -1 else retry = reset end

  else -- sliding: ten sub-windows and the current one
    local sub = math.max(idiv(window, 10), 1)
    local index = idiv(now, sub)
    local newest, slots = 0, {}
    for s = 0, 10 do slots[s] = 0 end
    if raw then
      local fields = {}
      for f in string.gmatch(raw, '%d+') do fields[#fields + 1] = tonumber(f) end
      newest = fields[1] or 0
      for s = 0, 10 do slots[s] = fields[s + 2] or 0 end
    end
    local stale = math.min(math.max(index - newest, 0), 11)
    for k = 0, stale - 1 do slots[(index - k) % 11] = 0 end
    newest = math.max(newest, index)
    local count = 0
    for s = 0, 10 do count = count + slots[s] end
    local oldest = math.max(index - 10, 0)
    local function leaves_at(j) return math.max((j + 11) * sub - now, 0) end
    if count + cost <= limit then
      allowed = 1
      slots[index % 11] = slots[index % 11] + cost
      local fields = {int(newest)}
      for s = 0, 10 do fields[#fields + 1] = int(slots[s]) end
      writes[#writes + 1] = {key, table.concat(fields, ':'), idiv(window * 11, 10000) + 2}
      remaining = math.max(limit - count - cost, 0)
    else
      allowed = 0
      remaining = math.max(limit - count, 0)
    end
    reset = 0
    for j = index, oldest, -1 do
      if slots[j % 11] > 0 then reset = leaves_at(j) break end
    end
    retry = -1
    if allowed == 0 and cost <= limit then
      local freed = 0
      for j = oldest, index do
        freed = freed + slots[j % 11]
        if count - freed + cost <= limit then retry = leaves_at(j) break end
      end
    end
  end

  out[#out + 1] = allowed
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
  if allowed == 0 then all = false break end
end

if all then
  for _, w in ipairs(writes) do redis.call('SET', w[1], w[2], 'PX', w[3]) end
end
return out
