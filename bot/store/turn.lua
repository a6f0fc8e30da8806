-- One conversation turn, atomically: compare-and-set of the contact's state,
-- the provider id marked as seen, the replies appended to the outbox, and the
-- turn's other writes (subscriptions, requests).
--
-- KEYS[1] contact state hash {v, s, a, ch, x}
-- KEYS[2] the contact's handled provider message ids, a sorted set by time
-- KEYS[3] outbox stream (KEYS[1] when no replies go out)
-- KEYS[4] where the conversation stands (expires after the idle period)
-- KEYS[5..] keys of the other writes, one each
-- ARGV[1] version read       ARGV[2] new state       ARGV[3] state ttl (ms)
-- ARGV[4] sealed address ('' = keep)                  ARGV[5] channel
-- ARGV[6] seen ttl (ms, 0 = no provider id)
-- ARGV[7] dialog ('' = none)  ARGV[8] dialog ttl (ms)
-- ARGV[9] provider message id  ARGV[10] now (ms)     ARGV[11] most ids kept
-- ARGV[12] number of outbox entries
-- then the entries, then for each other write: command, number of arguments, arguments.
-- Returns 1 done, 0 the state changed since it was read, 2 already seen.
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then
  return 0
end
local seenTTL = tonumber(ARGV[6])
if seenTTL > 0 then
  if redis.call('ZSCORE', KEYS[2], ARGV[9]) then
    return 2
  end
  local now = tonumber(ARGV[10])
  redis.call('ZADD', KEYS[2], now, ARGV[9])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - seenTTL)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[11]) - 1)
  redis.call('PEXPIRE', KEYS[2], seenTTL)
end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 's', ARGV[2])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'a', ARGV[4], 'ch', ARGV[5])
  -- A message from the address proves it reachable again.
  redis.call('HDEL', KEYS[1], 'x')
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if ARGV[7] == '' then
  redis.call('DEL', KEYS[4])
else
  redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8])
end
local i = 13
for _ = 1, tonumber(ARGV[12]) do
  redis.call('XADD', KEYS[3], '*', 'e', ARGV[i])
  i = i + 1
end
local allowed = {SADD = true, SREM = true, SET = true, ZADD = true, ZREM = true, RPUSH = true, PEXPIRE = true}
local k = 5
while i <= #ARGV do
  local cmd, n = ARGV[i], tonumber(ARGV[i + 1])
  if not allowed[cmd] then
    return redis.error_reply('turn: command not allowed: ' .. cmd)
  end
  local args = {}
  for j = 1, n do
    args[j] = ARGV[i + 1 + j]
  end
  redis.call(cmd, KEYS[k], unpack(args))
  i = i + 2 + n
  k = k + 1
end
return 1
