-- FIXTURE (tests/store_legacy): src/store/merge.lua as released at commit 3a831db, kept verbatim
-- as the "old host's" Redis script in the mixed-fleet test (the qk_store_v2 library variant).
-- Never edit it to follow today's script: it is what a host of that release runs on the server.
-- The only change is this comment (cmake/embed_lua.cmake drops comment lines anyway).
-- The fleet merge of one service's windows: the Redis backend's half of the lease protocol
-- (docs/store.md, "The model"), one EVALSHA per service per sync. src/store/merge.c is the same
-- rule in C (the DynamoDB backend runs it); tests/store/test_merge_diff.c drives both with the
-- same random requests and holds them to the same answers.
--
-- KEYS: one hash per window, qk:{<service>}:<period>:<start_ms> (the hash tag keeps a service's
-- windows in one Redis Cluster slot).
-- ARGV[1]  the host id;
-- ARGV[2]  the retention: ms a key is kept past its window's end, or the window's length if
--          longer (QK__STORE_RETENTION_MS, src/store/merge.h);
-- ARGV[3]  how long after its last sync a host counts as active (QK__STORE_ACTIVE_MS);
-- then per window 7 integers: the limit, start_ms, end_ms (0: forever), the total grant the host
-- wants, and its cumulative used, refunded and given back.
-- Reply: the server's time in ms, then per window the host's grant and give-back totals, the
-- fleet's G and U, L, and the number of hosts active.
--
-- Every value only moves towards the host's cumulative ones, a give-back included, so a
-- repeated, late or reordered call changes nothing. G and U are the sums over the hosts of
-- g - x and u - r, moved by exact (signed) differences, never floored (docs/store.md says why).
-- Everything is checked and computed before the first write: a script error does not roll back
-- what the script already wrote.
--
-- Embedded in src/store/redis.c by cmake/embed_lua.cmake, which leaves comment lines and blank
-- lines out, turns the `-- #ifdef NAME`, `-- #else` and `-- #endif` lines into the C
-- preprocessor's, and puts the `--|` lines (a mutant's code, commented out here so that this file
-- is the real script as it stands) into the script of the build that defines NAME.

local k = #KEYS
local ARGS, PER = 3, 7 -- ARGV before the windows; ARGV per window
if #ARGV ~= ARGS + PER * k then
  return redis.error_reply('ERR qk_sync: bad arguments')
end
for a = 2, #ARGV do
  local v = tonumber(ARGV[a])
  if v == nil or v < 0 or v % 1 ~= 0 then
    return redis.error_reply('ERR qk_sync: argument ' .. a .. ' is not a count')
  end
end
local host = ARGV[1]
local retention, active_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {'G', 'U', 'g:' .. host, 'x:' .. host, 'u:' .. host, 'r:' .. host}

-- Read, check and merge every window; write nothing yet.
local merged = {}
for i = 1, k do
  local ty = redis.call('TYPE', KEYS[i])['ok']
  if ty ~= 'hash' and ty ~= 'none' then
    return redis.error_reply('WRONGTYPE qk_sync: ' .. KEYS[i] .. ' holds a ' .. ty)
  end
  local f = redis.call('HMGET', KEYS[i], unpack(fields))
  for j = 1, 6 do
    if f[j] and tonumber(f[j]) == nil then
      return redis.error_reply('ERR qk_sync: ' .. KEYS[i] .. ' ' .. fields[j] .. ' is not a number')
    end
    f[j] = tonumber(f[j] or 0)
  end
  local G, U, gh, xh, uh, rh = unpack(f)
  local b = ARGS + PER * (i - 1)
  local limit, s, e = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local want, u, rf = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
  local x = tonumber(ARGV[b + 7])
  -- #ifdef QK_MUTANT_STORE_DELTAS
  -- tests/store only: the bug the cumulative protocol prevents, a script that adds what it is
  -- sent (the host sends deltas: src/store/redis.c), so a request applied late and sent again
  -- counts twice.
  --|  -- QK_MUTANT_STORE_DELTAS
  --|  U = U + u; uh = uh + u
  --|  U = U - rf; rh = rh + rf
  -- #else
  -- A host never refunds more than it used (src/store/engine.c): a request that does is refused.
  if rf > u then
    return redis.error_reply('ERR qk_sync: window ' .. i .. ' refunds more than it used')
  end
  -- Reports: each counter keeps the larger value; the fleet's use moves by the difference.
  if u > uh then U = U + (u - uh); uh = u end
  if rf > rh then U = U - (rf - rh); rh = rf end
  -- #endif
  -- Give-backs: the host's total only grows; the fleet's grants drop by the difference.
  if x > xh then G = G - (x - xh); xh = x end
  -- Overdraft: use past what the host holds (records, outage use) raises its grant to match.
  if uh - rh > gh - xh then G = G + (uh - rh - gh + xh); gh = uh - rh + xh end
  -- With requests as hosts send them no total goes below zero: one that does was changed by
  -- hand (or by a broken server), and is refused rather than floored. Checked before the grant,
  -- which only adds, so a refusal never depends on the server's time.
  if G < 0 or U < 0 or gh < 0 then
    return redis.error_reply('ERR qk_sync: ' .. KEYS[i] .. ' holds totals below what its hosts hold')
  end
  -- Grants: only what is left of the limit, only while the server's time is inside the window.
  if want > gh and G < limit and (e == 0 or (now >= s and now < e)) then
    local give = math.min(want - gh, limit - G)
    gh = gh + give; G = G + give
  end
  merged[i] = {limit, s, e, G, U, gh, xh, uh, rh}
end

-- Write every window and answer.
local r = {now}
for i = 1, k do
  local limit, s, e, G, U, gh, xh, uh, rh = unpack(merged[i])
  redis.call('HSET', KEYS[i], 'L', limit, 'G', G, 'U', U, 'g:' .. host, gh, 'x:' .. host, xh,
             'u:' .. host, uh, 'r:' .. host, rh, 't:' .. host, now)
  if e > 0 then redis.call('PEXPIREAT', KEYS[i], e + math.max(retention, e - s)) end
  local active, all = 0, redis.call('HGETALL', KEYS[i])
  for j = 1, #all, 2 do
    if string.sub(all[j], 1, 2) == 't:' and tonumber(all[j + 1]) >= now - active_ms then
      active = active + 1
    end
  end
  r[#r + 1] = gh; r[#r + 1] = xh; r[#r + 1] = G; r[#r + 1] = U; r[#r + 1] = limit
  r[#r + 1] = active
end
return r
