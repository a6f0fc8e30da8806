-- Enqueues one batch of a broadcast: each person at most once, whatever
-- crashes or retries happen, and counts them.
-- The batch is of one shard's people, and every key is that shard's (one
-- slot): KEYS[1] its recipients set, KEYS[2] its share of the counts,
-- KEYS[3] its bulk stream, KEYS[4] its share of the set the contacts were
-- read from.
-- ARGV: for each contact, its key; 'e' (entry), 's' (skipped) or 'n' (skipped,
-- and gone: removed from KEYS[4]); the entry ('' when skipped); then what a
-- contact new to the broadcast adds to the counts: how many fields, then the
-- fields (from package tally, which owns them). The count is taken here, in
-- the step that records the recipient, so that each person counts once.
local added = 0
local i = 1
while i <= #ARGV do
  local n = tonumber(ARGV[i + 3])
  if redis.call('SADD', KEYS[1], ARGV[i]) == 1 then
    for j = i + 4, i + 3 + n do
      redis.call('HINCRBY', KEYS[2], ARGV[j], 1)
    end
    if ARGV[i + 1] == 'e' then
      redis.call('XADD', KEYS[3], '*', 'e', ARGV[i + 2])
      added = added + 1
    end
  end
  if ARGV[i + 1] == 'n' then
    redis.call('SREM', KEYS[4], ARGV[i])
  end
  i = i + 4 + n
end
return added
