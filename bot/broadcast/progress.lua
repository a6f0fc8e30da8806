-- Records how far a fan-out read one set, if the fan-out still holds the
-- broadcast and it is not cancelled, and renews the fan-out's lock.
-- KEYS[1] the broadcast's hash, KEYS[2] its fan-out lock (both share {o})
-- ARGV[1] the lock's holder, ARGV[2] the lock's period (ms), ARGV[3] the
-- field of the mark, ARGV[4] the mark (an SSCAN cursor, or 'done')
-- Returns -1 when the broadcast is cancelled, 0 when the lock is another's
-- (or gone), 1 when the mark is recorded.
if redis.call('HGET', KEYS[1], 'status') == 'cancelled' then
  return -1
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
return 1
