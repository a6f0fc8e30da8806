-- Counts the people of several sets once: their union, kept for a moment.
-- KEYS[1] where the union goes, KEYS[2..] the sets (all of one shard: one
-- slot). ARGV[1] how long the union is kept (ms): it names people, and must
-- not outlive the moment, so it never exists without its expiry.
-- Returns how many the union holds.
local n = redis.call('SUNIONSTORE', KEYS[1], unpack(KEYS, 2))
if n > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
