-- Compare-and-set of a contact's dialog state.
-- KEYS[1] state hash {v = version, s = state}
-- ARGV[1] version read, ARGV[2] new state, ARGV[3] time to live in ms
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'v', tonumber(ARGV[1]) + 1, 's', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
