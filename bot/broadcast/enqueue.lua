-- Enqueues one batch of a broadcast: each person at most once, whatever
-- crashes or retries happen, and counts them.
-- KEYS[1] recipients set, KEYS[2] counts hash, KEYS[3] bulk stream (all share {o}),
-- KEYS[4] the set the contacts were read from
-- ARGV: triples of contact key, 'e' (entry), 's' (skipped) or 'n' (skipped, and gone:
-- removed from KEYS[4]), then the entry or the reason
local added = 0
for i = 1, #ARGV, 3 do
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'total', 1)
    if ARGV[i + 1] == 'e' then
      redis.call('XADD', KEYS[3], '*', 'e', ARGV[i + 2])
      added = added + 1
    else
      redis.call('HINCRBY', KEYS[2], 'skipped', 1)
      redis.call('HINCRBY', KEYS[2], 'skipped:' .. ARGV[i + 2], 1)
    end
  end
  if ARGV[i + 1] == 'n' then
    redis.call('SREM', KEYS[4], ARGV[i])
  end
end
return added
