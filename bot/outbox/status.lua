-- Moves a message's delivery state forward only.
-- KEYS[1] message hash; ARGV[1] status, ARGV[2] its rank, ARGV[3] error code, ARGV[4] ttl (ms)
-- Returns the rank it had (-1 for none) when it moved, or -2 when it did not.
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if tonumber(ARGV[2]) <= cur then
  return -2
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'err', ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return cur
