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
-- ARGV[10..] what each final state adds to the broadcast's counts: a state,
-- how many fields, then the fields (from package tally, which owns them).
-- The count is taken here, not by the caller, because it must be taken
-- once, with the 'counted' mark, and may depend on the state already
-- stored rather than on the one given.
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
if bc ~= '' then
  -- The state stored is the furthest seen: final once any final one came.
  local st = redis.call('HGET', KEYS[1], 'status')
  local i = 10
  while i <= #ARGV do
    local n = tonumber(ARGV[i + 1])
    if ARGV[i] == st then
      if redis.call('HSETNX', KEYS[1], 'counted', '1') == 1 then
        for j = i + 2, i + 1 + n do
          redis.call('HINCRBY', KEYS[2], ARGV[j], 1)
        end
      end
      break
    end
    i = i + 2 + n
  end
end
if moved then
  return cur
end
return -2
