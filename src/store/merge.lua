-- The fleet merge of one service's windows: the Redis backend's half of the lease protocol
-- (docs/store.md, "The model"), one EVALSHA per service per sync. src/store/merge.c is the same
-- rule in C (the DynamoDB backend runs it); tests/store/test_merge_diff.c drives both with the
-- same random requests and holds them to the same answers.
--
-- KEYS: four per window (the hash tag keeps a service's keys in one Redis Cluster slot):
--   qk:{<service>}:<period>:<start_ms>       the window: L, G, U and each live host's g:, x:, u:,
--                                             r: (its totals), t: (last sync) and q: (request no.)
--   qk:{<service>}:<period>:<start_ms>:seen  a sorted set, live host -> server ms of its last sync
--   qk:{<service>}:<period>:<start_ms>:gone  a hash, retired host -> "g x u r q"
--   qk:{<service>}:r<period>:pieces          a rolling window's pieces: a hash, piece start -> its
--                                             G (docs/store.md, "Rolling windows"); untouched for
--                                             a fixed window
-- ARGV[1]  the host id;
-- ARGV[2]  the retention: ms a key is kept past its window's end, or the window's length if
--          longer (QK__STORE_RETENTION_MS, src/store/merge.h);
-- ARGV[3]  how long after its last sync a host counts as active (QK__STORE_ACTIVE_MS);
-- ARGV[4]  how long a host may be silent before it is retired (QK__STORE_RETIRE_MS);
-- ARGV[5]  the request's number for this host and service (0: unnumbered, never taken as late);
-- ARGV[6]  1 when this is the host's last word (retire it now), else 0;
-- ARGV[7]  the most hosts one call may retire, over every window (QK__STORE_RETIRE_PER_SYNC);
-- then per window 8 integers: the limit, start_ms, end_ms (0: forever), the total grant the host
-- wants, its cumulative used, refunded and given back, and the horizon (0: a fixed window; for a
-- piece of a rolling window, how long after its end another piece still counts against it).
-- Reply: the server's time in ms, then per window the host's grant and give-back totals, the
-- fleet's G (for a piece, with what the other pieces within the horizon hold) and U, L, and the
-- number of hosts active.
--
-- The cost of a call is bounded by what it touches, never by how many hosts a window has seen:
-- HMGET and HSET of named fields, ZADD and ZCOUNT on the live set, and at most ARGV[7]
-- retirements (docs/store.md, "Retirement"). A retired host's counters move to :gone, which only
-- that host reads (HGET), so it resumes exactly; a request numbered no higher than the last one
-- applied for its host is late: it may raise counters (by max) but is granted nothing, and a late
-- request for a retired host changes nothing at all.
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

local KPER, ARGS, PER = 4, 7, 8 -- KEYS per window; ARGV before the windows; ARGV per window
local k = #KEYS / KPER
if #KEYS % KPER ~= 0 or #ARGV ~= ARGS + PER * k then
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
local retire_ms, seq, final = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local retire_max = tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local HOST = {'g:', 'x:', 'u:', 'r:', 'q:'}

local function check_type(key, want)
  local ty = redis.call('TYPE', key)['ok']
  if ty ~= want and ty ~= 'none' then
    return redis.error_reply('WRONGTYPE qk_sync: ' .. key .. ' holds a ' .. ty)
  end
end

-- A host's counters {g, x, u, r, q} from the window's fields (nil: not live there), or an error.
local function read_host(key, id)
  local f = redis.call('HMGET', key, HOST[1] .. id, HOST[2] .. id, HOST[3] .. id, HOST[4] .. id,
                       HOST[5] .. id)
  if not f[1] then return nil end
  for j = 1, 5 do
    if f[j] and tonumber(f[j]) == nil then
      return nil, redis.error_reply('ERR qk_sync: ' .. key .. ' ' .. HOST[j] .. id .. ' is not a number')
    end
    f[j] = tonumber(f[j] or 0)
  end
  return f
end

-- A retired host's counters from :gone (nil: none), or an error.
local function read_gone(gone, id)
  local rec = redis.call('HGET', gone, id)
  if not rec then return nil end
  local f = {}
  for v in string.gmatch(rec, '%S+') do f[#f + 1] = tonumber(v) end
  if #f ~= 5 then
    return nil, redis.error_reply('ERR qk_sync: ' .. gone .. ' ' .. id .. ' is not a host record')
  end
  return f
end

-- A rolling window's pieces, read once per call and kept up to date as its windows merge, so a
-- piece merged after another of the same request sees that one's new G (as the C merge does).
local pieces = {}
local function pieces_of(pk)
  if pieces[pk] then return pieces[pk] end
  local t, p = redis.call('HGETALL', pk), {}
  for j = 1, #t, 2 do
    local ps, pg = tonumber(t[j]), tonumber(t[j + 1])
    if ps == nil or pg == nil then
      return nil, redis.error_reply('ERR qk_sync: ' .. pk .. ' ' .. t[j] .. ' is not a piece')
    end
    p[ps] = pg
  end
  pieces[pk] = p
  return p
end

-- What the other pieces of piece [s, e)'s window hold, of those that ended less than horizon
-- before now (merge.h, qk__store_piece_counts); 0 for a fixed window (horizon 0).
local function others_of(pk, s, e, horizon)
  local held = 0
  if horizon > 0 then
    for ps, pg in pairs(pieces[pk]) do
      if ps ~= s and ps + (e - s) > now - horizon then held = held + pg end
    end
  end
  return held
end

-- Read, check and merge every window; write nothing yet.
local merged, retire_left = {}, retire_max
for i = 1, k do
  local key, seen = KEYS[KPER * i - 3], KEYS[KPER * i - 2]
  local gone, pk = KEYS[KPER * i - 1], KEYS[KPER * i]
  for _, kt in ipairs({{key, 'hash'}, {seen, 'zset'}, {gone, 'hash'}}) do
    local bad = check_type(kt[1], kt[2])
    if bad then return bad end
  end
  local f = redis.call('HMGET', key, 'G', 'U')
  for j = 1, 2 do
    if f[j] and tonumber(f[j]) == nil then
      return redis.error_reply('ERR qk_sync: ' .. key .. ' ' .. ({'G', 'U'})[j] .. ' is not a number')
    end
  end
  local G, U = tonumber(f[1] or 0), tonumber(f[2] or 0)
  local b = ARGS + PER * (i - 1)
  local limit, s, e = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
  local want, u, rf = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), tonumber(ARGV[b + 6])
  local x, horizon = tonumber(ARGV[b + 7]), tonumber(ARGV[b + 8])
  local m = {key = key, seen = seen, gone = gone, limit = limit, s = s, e = e, out = {},
             pk = pk, horizon = horizon}
  if horizon > 0 then
    local bad = check_type(pk, 'hash')
    if bad then return bad end
    local _
    _, bad = pieces_of(pk)
    if bad then return bad end
  end
  -- What the window's other pieces within the horizon hold: the grant leaves room for it.
  m.others = others_of(pk, s, e, horizon)

  -- Retire hosts silent past the bound: what they hold unused goes back (G drops), their
  -- counters move to :gone. Only hosts in :seen (that synced through this script) are retired; a
  -- host whose t: moved past its score synced through an older script since, and is left alone.
  if retire_left > 0 then
    local old = redis.call('ZRANGEBYSCORE', seen, '-inf', '(' .. (now - retire_ms), 'WITHSCORES',
                           'LIMIT', 0, retire_left + 1)
    for j = 1, #old, 2 do
      local id, score = old[j], tonumber(old[j + 1])
      if id ~= host and retire_left > 0 then
        local c, bad = read_host(key, id)
        if bad then return bad end
        local ts = tonumber(redis.call('HGET', key, 't:' .. id) or score)
        if c and ts == score then
          local held, net = c[1] - c[2], c[3] - c[4]
          if held > net then G = G - (held - net); c[2] = c[1] - net end
          m.out[#m.out + 1] = {id, c}
          m.retired = true
          retire_left = retire_left - 1
        else
          -- No counters (the hash was lost), or an older script's host now: off :seen only.
          m.out[#m.out + 1] = {id, false}
        end
      end
    end
  end

  local c, bad = read_host(key, host)
  if bad then return bad end
  if not c then
    c, bad = read_gone(gone, host)
    if bad then return bad end
    m.back = c ~= nil
    c = c or {0, 0, 0, 0, 0}
  end
  local gh, xh, uh, rh, qh = c[1], c[2], c[3], c[4], c[5]
  local late = seq > 0 and seq <= qh
  m.skip = late and m.back -- a late request for a retired host: nothing changes
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
  if not m.skip then
    -- Reports: each counter keeps the larger value; the fleet's use moves by the difference.
    if u > uh then U = U + (u - uh); uh = u end
    if rf > rh then U = U - (rf - rh); rh = rf end
  end
  -- #endif
  if not m.skip then
    -- Give-backs: the host's total only grows; the fleet's grants drop by the difference.
    if x > xh then G = G - (x - xh); xh = x end
    -- Overdraft: use past what the host holds (records, outage use) raises its grant to match.
    if uh - rh > gh - xh then G = G + (uh - rh - gh + xh); gh = uh - rh + xh end
  end
  -- A last word: what the host still holds goes back as it leaves (before the check, so a window
  -- whose G was lowered by hand refuses it rather than going below zero). A late last word is a
  -- late request like any other.
  m.final = final and not late
  if m.final and gh - xh > uh - rh then G = G - (gh - xh - (uh - rh)); xh = gh - (uh - rh) end
  -- With requests as hosts send them no total goes below zero: one that does was changed by
  -- hand (or by a broken server), and is refused rather than floored. Checked before the grant,
  -- which only adds, so a refusal never depends on the server's time.
  if G < 0 or U < 0 or gh < 0 then
    return redis.error_reply('ERR qk_sync: ' .. key .. ' holds totals below what its hosts hold')
  end
  -- Grants: only to the newest request and never to a last word, only what is left of the
  -- limit (for a piece, after its window's other pieces), only while the server's time is
  -- inside the window.
  local cap = math.max(limit - m.others, 0)
  if not late and not m.final and want > gh and G < cap and (e == 0 or (now >= s and now < e)) then
    local give = math.min(want - gh, cap - G)
    gh = gh + give; G = G + give
  end
  m.G, m.U = G, U
  if horizon > 0 and (not m.skip or m.retired) then pieces[pk][s] = G end
  m.c = {gh, xh, uh, rh, math.max(qh, seq)}
  merged[i] = m
end

-- Write every window and answer.
local function fields_of(id)
  return 'g:' .. id, 'x:' .. id, 'u:' .. id, 'r:' .. id, 't:' .. id, 'q:' .. id
end
local function record(c)
  return string.format('%d %d %d %d %d', c[1], c[2], c[3], c[4], c[5])
end
local r = {now}
for i = 1, k do
  local m = merged[i]
  local gh, xh = m.c[1], m.c[2]
  for _, o in ipairs(m.out) do
    redis.call('ZREM', m.seen, o[1])
    if o[2] then
      redis.call('HDEL', m.key, fields_of(o[1]))
      redis.call('HSET', m.gone, o[1], record(o[2]))
    end
  end
  if m.skip then
    if m.retired then redis.call('HSET', m.key, 'G', m.G) end
  else
    if m.final then
      redis.call('HSET', m.key, 'L', m.limit, 'G', m.G, 'U', m.U)
      redis.call('HDEL', m.key, fields_of(host))
      redis.call('ZREM', m.seen, host)
      redis.call('HSET', m.gone, host, record(m.c))
    else
      local c = m.c
      redis.call('HSET', m.key, 'L', m.limit, 'G', m.G, 'U', m.U, 'g:' .. host, c[1],
                 'x:' .. host, c[2], 'u:' .. host, c[3], 'r:' .. host, c[4], 't:' .. host, now,
                 'q:' .. host, c[5])
      redis.call('ZADD', m.seen, now, host)
      if m.back then redis.call('HDEL', m.gone, host) end
    end
    if m.e > 0 then
      -- A piece matters for its horizon only, and is kept one piece longer (merge.h,
      -- qk__store_piece_keep_ms): the live keys of a rolling window stay a dozen or so.
      local at = m.e + math.max(retention, m.e - m.s)
      if m.horizon > 0 then at = m.e + m.horizon + (m.e - m.s) end
      redis.call('PEXPIREAT', m.key, at)
      redis.call('PEXPIREAT', m.seen, at)
      redis.call('PEXPIREAT', m.gone, at)
    end
  end
  if m.horizon > 0 and (not m.skip or m.retired) then
    -- This piece's G, and the pieces past the horizon dropped (they count for nothing), so the
    -- hash a sync reads holds a dozen pieces or so, whatever the window's age.
    redis.call('HSET', m.pk, m.s, m.G)
    for ps, _ in pairs(pieces[m.pk]) do
      if ps + (m.e - m.s) <= now - m.horizon then
        redis.call('HDEL', m.pk, ps)
        pieces[m.pk][ps] = nil
      end
    end
    redis.call('PEXPIREAT', m.pk, m.e + m.horizon + (m.e - m.s))
  end
  local active = redis.call('ZCOUNT', m.seen, now - active_ms, '+inf')
  -- A piece answers with what its window's other pieces hold once the whole call is merged (as
  -- the C backend answers from the item it writes); its grant above used them as they stood.
  local others = others_of(m.pk, m.s, m.e, m.horizon)
  r[#r + 1] = gh; r[#r + 1] = xh; r[#r + 1] = m.G + others; r[#r + 1] = m.U; r[#r + 1] = m.limit
  r[#r + 1] = active
end
return r
