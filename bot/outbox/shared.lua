-- One take from a rate shared by every instance (GCRA: the key holds the
-- theoretical arrival time of the next send, in ms).
-- KEYS[1] the rate's key      KEYS[2] its pause key (a provider's Retry-After)
-- ARGV[1] now (ms)            ARGV[2] ms the take costs (cost / rate)
-- ARGV[3] ms of burst tolerance
-- Returns 0 when taken, else the ms to wait before asking again.
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then
  return paused
end
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local new = tat + tonumber(ARGV[2])
local early = new - now - tonumber(ARGV[3])
if early > 0.001 then
  return math.ceil(early)
end
redis.call('SET', KEYS[1], tostring(new), 'PX', math.ceil(new - now) + 1000)
return 0
