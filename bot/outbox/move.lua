-- Moves entries whose retry time has come from the delayed set back to their stream.
-- KEYS[1] delayed set, KEYS[2] reply stream, KEYS[3] bulk stream
-- ARGV[1] now (ms), ARGV[2] most entries to move
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, e in ipairs(due) do
  local ok, entry = pcall(cjson.decode, e)
  local stream = KEYS[3]
  if ok and entry.prio == 'reply' then
    stream = KEYS[2]
  end
  redis.call('XADD', stream, '*', 'e', e)
  redis.call('ZREM', KEYS[1], e)
end
return #due
