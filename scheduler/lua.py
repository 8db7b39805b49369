"""The Lua every job-protocol script (scheduler.scripts) is built on: the
server's clock, the waiting index's members, observing a transition (its audit
entry, counters and indexes), entering a status, acknowledging an entry, and a
queued job's place."""

from __future__ import annotations

COMMON = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local ACTIVE = {QUEUED = true, RUNNING = true}
-- The waiting index's member for a job: its id and its record count, so that the
-- records leave QUEUED_RECORDS with the job even once its record has expired.
local function waiter(id, records)
  return id .. '|' .. (records or '0')
end
-- A job leaves the queue: its records stop counting. Only a job the waiting index
-- holds counted them, so a job queued before QUEUED_RECORDS existed takes nothing
-- off, and a job that leaves twice (its record expired, say) leaves once.
-- Returns whether it was waiting.
local function unwait(counts, waiting, member)
  if redis.call('ZREM', waiting, member) == 0 then return false end
  local records = string.match(member, '|(%d+)$')
  redis.call('HINCRBY', counts, 'QUEUED_RECORDS', -tonumber(records or '0'))
  return true
end
-- The job's fields a transition's observer reads, in the order `observed` uses.
local OBSERVED = {'id', 'model', 'version', 'submitter', 'created',
  'started', 'attempt_started', 'records', 'input_sha256', 'input_bytes',
  'error_reason', 'error_message', 'attempts', 'worker', 'parent', 'record_count',
  'route', 'rollout', 'record_errors'}
-- counts, finished, audit, waiting, version counts, version finished: the
-- observer keys, KEYS[o] to KEYS[o + 5] (the last three of the job's queue);
-- f: the job's OBSERVED fields (false or nil where it has none).
local function observed(f, before, status, at, o)
  local counts, finished, audit, waiting = KEYS[o], KEYS[o + 1], KEYS[o + 2], KEYS[o + 3]
  local vcounts, vfinished = KEYS[o + 4], KEYS[o + 5]
  if before and ACTIVE[before] then
    redis.call('HINCRBY', counts, before, -1)
    redis.call('HINCRBY', vcounts, before, -1)
  end
  redis.call('HINCRBY', counts, status, 1)
  redis.call('HINCRBY', vcounts, status, 1)
  -- The waiting index is the ordered twin of the QUEUED counter: a job's place
  -- in the queue is its rank there, an O(log n) count.
  if before == 'QUEUED' then unwait(counts, waiting, waiter(f[1], f[16])) end
  if status == 'QUEUED' then
    redis.call('ZADD', waiting, at, waiter(f[1], f[16]))
    redis.call('HINCRBY', counts, 'QUEUED_RECORDS', f[16] or 0)
  end
  local entry = {'job', f[1], 'model', f[2], 'version', f[3] or '', 'user', f[4] or '',
    'status', status, 'time', string.format('%.6f', at), 'parent', f[15] or ''}
  if status == 'QUEUED' and f[17] then
    entry[#entry + 1] = 'route'; entry[#entry + 1] = f[17]
    entry[#entry + 1] = 'rollout'; entry[#entry + 1] = f[18] or ''
  end
  if status == 'QUEUED' then
    if f[9] then
      entry[#entry + 1] = 'input_sha256'; entry[#entry + 1] = f[9]
      entry[#entry + 1] = 'input_bytes'; entry[#entry + 1] = f[10]
    else
      entry[#entry + 1] = 'input'; entry[#entry + 1] = f[8] or ''
    end
  elseif status == 'RUNNING' then
    entry[#entry + 1] = 'attempts'; entry[#entry + 1] = f[13] or '0'
  else
    local exec, wait = '', ''
    if f[7] then exec = string.format('%.6f', at - tonumber(f[7])) end
    if f[6] then wait = string.format('%.6f', tonumber(f[6]) - tonumber(f[5])) end
    for _, pair in ipairs({{'error_reason', f[11]}, {'error_message', f[12]},
        {'attempts', f[13]}, {'worker', f[14]}, {'exec_seconds', exec}, {'wait_seconds', wait}}) do
      entry[#entry + 1] = pair[1]; entry[#entry + 1] = pair[2] or ''
    end
    redis.call('ZADD', finished, at,
      f[1] .. '|' .. status .. '|' .. exec .. '|' .. wait)
    -- A FAILED job failed all its records; a SUCCEEDED one those its worker counted.
    local records = f[16] or '0'
    local failed = f[19] or '0'
    if status == 'FAILED' then failed = records end
    redis.call('ZADD', vfinished, at,
      f[1] .. '|' .. status .. '|' .. exec .. '|' .. wait .. '|' .. failed .. '|' .. records)
  end
  redis.call('XADD', audit, '*', unpack(entry))
end
local function observe(job, before, status, at, o)
  observed(redis.call('HMGET', job, unpack(OBSERVED)), before, status, at, o)
end
local function enter(job, status, at, o)
  local before = redis.call('HGET', job, 'status')
  redis.call('HINCRBY', job, 'rev', 1)
  redis.call('HSET', job, 'status', status)
  local stamp = status .. '@' .. string.format('%.6f', at) .. ';'
  redis.call('HSET', job, 'transitions', (redis.call('HGET', job, 'transitions') or '') .. stamp)
  redis.call('PUBLISH', ARGV[1], redis.call('HGET', job, 'id') .. ' ' .. status)
  observe(job, before, status, at, o)
end
local function done(stream, entry)
  if entry ~= '' then
    redis.call('XACK', stream, 'workers', entry)
    redis.call('XDEL', stream, entry)
  end
end
local TERMINAL = {SUCCEEDED = true, FAILED = true, CANCELLED = true}
"""

# Where a QUEUED job stands: the jobs ahead of it in its model's waiting index
# (member: see waiter; the job's own score from ZSCORE, so no float is ever
# formatted in Lua) and
# when a worker serving the model last announced itself (see PRESENCE).
# Returns {jobs ahead or -1 if the job is not waiting, newest worker's last-seen
# time or '' if none, the server's time now}.
PLACE = """
-- The newest last-seen time of the workers of two sets (a version's, and the
-- model's all-versions workers), or ''.
local function newest_seen(a, b)
  local x = redis.call('ZREVRANGE', a, 0, 0, 'WITHSCORES')[2]
  local y = redis.call('ZREVRANGE', b, 0, 0, 'WITHSCORES')[2]
  if x and y then
    if tonumber(x) >= tonumber(y) then return x end
    return y
  end
  return x or y or ''
end
local function place(waiting, workers, all_workers, member, at)
  local ahead = -1
  local score = redis.call('ZSCORE', waiting, member)
  if score then ahead = redis.call('ZCOUNT', waiting, '-inf', '(' .. score) end
  return {ahead, newest_seen(workers, all_workers), string.format('%.6f', at)}
end
"""
