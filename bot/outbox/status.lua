-- Moves a message's delivery state forward only, and records who it was
-- for when the send is recorded. Callbacks can come before the record (the
-- provider answers the callback URL while the worker still writes): a
-- broadcast's count is taken once, when both the final state and the
-- broadcast are known, whichever came last.
-- KEYS[1] message hash
-- KEYS[2] the counts hash of the broadcast ARGV[5] (KEYS[1] when none)
-- ARGV[1] status   ARGV[2] its rank   ARGV[3] error code   ARGV[4] ttl (ms)
-- ARGV[5] the broadcast whose counts KEYS[2] is ('' = none known)
-- ARGV[6..9] entry id, contact, channel, broadcast when recording the send ('' otherwise)
-- Returns the rank it had (-1 for none) when it moved, -2 when it did not,
-- or -3, writing nothing, when the message is of another broadcast than
-- ARGV[5]: call again with that broadcast's counts as KEYS[2].
local bc = ARGV[9]
if ARGV[6] == '' then
  bc = redis.call('HGET', KEYS[1], 'bc') or ''
end
if bc ~= ARGV[5] then
  return -3
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'id', ARGV[6], 'ck', ARGV[7], 'ch', ARGV[8], 'bc', ARGV[9])
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
local moved = tonumber(ARGV[2]) > cur
if moved then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[1], 'err', ARGV[3])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local final = 4
if math.max(cur, tonumber(ARGV[2])) >= final and bc ~= '' and redis.call('HSETNX', KEYS[1], 'counted', '1') == 1 then
  local st = redis.call('HGET', KEYS[1], 'status')
  local field = 'delivered'
  if st == 'failed' or st == 'undelivered' or st == 'canceled' then
    field = 'failed'
  end
  redis.call('HINCRBY', KEYS[2], field, 1)
end
if moved then
  return cur
end
return -2
