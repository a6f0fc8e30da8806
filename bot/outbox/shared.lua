-- One place in a rate shared by every instance (GCRA). The key holds the
-- theoretical arrival time (ms) of the next send. Each caller reserves its
-- place at once and is told how long to wait for it, so that waiting is
-- first come, first served across instances.
-- Times are the callers' clock's, never Redis's: keys expire only to clean
-- up, ARGV[5] ms after the time they hold.
-- KEYS[1] the rate's key      KEYS[2] its pause key: when a provider's
--                             Retry-After ends (ms)
-- ARGV[1] now (ms)            ARGV[2] ms the place costs (cost / rate)
-- ARGV[3] ms of burst tolerance
-- ARGV[4] the longest wait (ms) worth reserving for
-- ARGV[5] ms the keys outlive their time
-- Returns 0 to go now, or the ms to wait: for the place reserved, or, when
-- paused or when the wait is longer than ARGV[4], before asking again.
local now = tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0') - now
if paused > 0 then
  return -math.ceil(paused)
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local wait = tat - now - tonumber(ARGV[3])
if wait > tonumber(ARGV[4]) then
  return -math.ceil(wait)
end
local new = tat + tonumber(ARGV[2])
redis.call('SET', KEYS[1], tostring(new), 'PX', math.ceil(new - now) + tonumber(ARGV[5]))
if wait <= 0 then
  return 0
end
return math.ceil(wait)
