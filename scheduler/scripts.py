"""The Lua scripts of the job protocol. Each runs atomically on the node that
owns the model's shard; every key a script touches is declared in KEYS and
shares that hash tag (the one exception: on a single server, not a cluster,
SUBMIT also writes the job indexes of other slots).

Times come from the Redis server's clock (TIME), one clock for every gateway
and worker. Status only moves forward: QUEUED -> RUNNING -> SUCCEEDED | FAILED
| CANCELLED, and QUEUED -> CANCELLED | FAILED.

Every transition is also *observed* by the same script (`observe` below): an
audit entry is appended to the model's audit stream, the model's status
counters move, a finished job joins the model's finished index, and a job
entering or leaving QUEUED enters or leaves the model's waiting jobs, whose
records the counters also sum (QUEUED_RECORDS, which admission limits). Those
keys (scheduler.keys.counts, finished, audit, waiting: the "observer keys") are
declared in
KEYS like every other key a script touches, and share the job's hash tag, so
they live in the same slot and the one atomic script covers them on a single
Redis and on Redis Cluster alike; a transition can therefore never happen
without its audit record.
"""

from __future__ import annotations

_COMMON = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local ACTIVE = {QUEUED = true, RUNNING = true}
-- A job leaves the queue: its records stop counting. Only a job the waiting hash
-- holds counted them, so a job queued before QUEUED_RECORDS existed takes nothing
-- off, and a job that leaves twice (its record expired, say) leaves once.
-- Returns its record count, or nil when it was not waiting.
local function unwait(counts, waiting, id)
  local records = redis.call('HGET', waiting, id)
  if records then
    redis.call('HDEL', waiting, id)
    redis.call('HINCRBY', counts, 'QUEUED_RECORDS', -tonumber(records))
  end
  return records
end
-- counts, finished, audit, waiting: the observer keys, KEYS[o] to KEYS[o + 3].
local function observe(job, before, status, at, o)
  local f = redis.call('HMGET', job, 'id', 'model', 'version', 'submitter', 'created',
    'started', 'attempt_started', 'records', 'input_sha256', 'input_bytes',
    'error_reason', 'error_message', 'attempts', 'worker', 'parent', 'record_count')
  local counts, finished, audit, waiting = KEYS[o], KEYS[o + 1], KEYS[o + 2], KEYS[o + 3]
  if before and ACTIVE[before] then redis.call('HINCRBY', counts, before, -1) end
  redis.call('HINCRBY', counts, status, 1)
  if before == 'QUEUED' then unwait(counts, waiting, f[1]) end
  if status == 'QUEUED' then
    redis.call('HSET', waiting, f[1], f[16] or 0)
    redis.call('HINCRBY', counts, 'QUEUED_RECORDS', f[16] or 0)
  end
  local entry = {'job', f[1], 'model', f[2], 'version', f[3] or '', 'user', f[4] or '',
    'status', status, 'time', string.format('%.6f', at), 'parent', f[15] or ''}
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
  end
  redis.call('XADD', audit, '*', unpack(entry))
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

# KEYS: job, queue stream, idempotency key, model index, the 4 observer keys, the
#       submitter's budget, the submitter's budget on this model; on a single
#       server (never on a cluster, where they live in other slots) also the
#       submitter's index, the index of all jobs, the set of known models and,
#       for a consensus job, the set of consensus models
# ARGV: events channel, job id, ttl seconds, fingerprint, has-idempotency ('1'|'0'),
#       the admission limits (scheduler.admission: the user's jobs per second,
#       jobs burst, records per second, records burst; the model's most queued
#       jobs, most queued records, each user's jobs per second and burst on it;
#       0 for none) and the job's record count, then the job's hash fields as
#       name/value pairs
# Returns {'created'|'duplicate'|'conflict', job id}, or, refused, {'limited',
# the bucket (scheduler.queue.Limit), seconds until it admits this job} /
# {'full', 'queued_jobs'|'queued_records', how many wait}.
SUBMIT = (
    _COMMON
    + """
if ARGV[5] == '1' then
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local sep = string.find(existing, '|', 1, true)
    local id = string.sub(existing, 1, sep - 1)
    if string.sub(existing, sep + 1) ~= ARGV[4] then return {'conflict', id} end
    return {'duplicate', id}
  end
end
local at = now()
local cost = tonumber(ARGV[14])
local max_jobs, max_records = tonumber(ARGV[10]), tonumber(ARGV[11])
if max_jobs > 0 or max_records > 0 then
  local c = redis.call('HMGET', KEYS[5], 'QUEUED', 'QUEUED_RECORDS')
  local jobs, records = tonumber(c[1] or '0'), tonumber(c[2] or '0')
  if max_jobs > 0 and jobs >= max_jobs then return {'full', 'queued_jobs', tostring(jobs)} end
  if max_records > 0 and records + cost > max_records then
    return {'full', 'queued_records', tostring(records)}
  end
end
-- Token buckets, refilled continuously: one token a job, one a record. Every
-- bucket is checked before any is charged, so a refusal costs nothing.
local function refill(tokens, burst, rate, since)
  local elapsed = math.max(at - (tonumber(since) or at), 0)
  return math.min(burst, (tonumber(tokens) or burst) + elapsed * rate)
end
local jobs_rate, jobs_burst = tonumber(ARGV[6]), tonumber(ARGV[7])
local records_rate, records_burst = tonumber(ARGV[8]), tonumber(ARGV[9])
local model_rate, model_burst = tonumber(ARGV[12]), tonumber(ARGV[13])
local jobs, records, model_jobs
if jobs_rate > 0 or records_rate > 0 then
  local b = redis.call('HMGET', KEYS[9], 'jobs', 'records', 'at')
  jobs = refill(b[1], jobs_burst, jobs_rate, b[3])
  records = refill(b[2], records_burst, records_rate, b[3])
  if jobs_rate > 0 and jobs < 1 then
    return {'limited', 'user_jobs', string.format('%.3f', (1 - jobs) / jobs_rate)}
  end
  if records_rate > 0 and records < cost then
    return {'limited', 'user_records', string.format('%.3f', (cost - records) / records_rate)}
  end
end
if model_rate > 0 then
  local b = redis.call('HMGET', KEYS[10], 'jobs', 'at')
  model_jobs = refill(b[1], model_burst, model_rate, b[2])
  if model_jobs < 1 then
    return {'limited', 'model_user_jobs', string.format('%.3f', (1 - model_jobs) / model_rate)}
  end
end
if jobs then
  redis.call('HSET', KEYS[9], 'jobs', string.format('%.6f', jobs - 1),
    'records', string.format('%.6f', records - cost), 'at', string.format('%.6f', at))
  redis.call('EXPIRE', KEYS[9], 3600)
end
if model_jobs then
  redis.call('HSET', KEYS[10], 'jobs', string.format('%.6f', model_jobs - 1),
    'at', string.format('%.6f', at))
  redis.call('EXPIRE', KEYS[10], 3600)
end
local fields = {}
for i = 15, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'created', string.format('%.6f', at), 'attempts', 0, unpack(fields))
enter(KEYS[1], 'QUEUED', at, 5)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], ARGV[2] .. '|' .. ARGV[4], 'EX', ARGV[3])
end
redis.call('ZADD', KEYS[4], at, ARGV[2])
if #KEYS > 10 then
  -- A single Redis server (not a cluster): the indexes in other slots are
  -- written here too, atomically with the job, instead of by separate commands.
  local model = redis.call('HGET', KEYS[1], 'model')
  redis.call('ZADD', KEYS[11], at, ARGV[2])
  redis.call('EXPIRE', KEYS[11], ARGV[3])
  redis.call('ZADD', KEYS[12], at, ARGV[2])
  redis.call('SADD', KEYS[13], model)
  if KEYS[14] then redis.call('SADD', KEYS[14], model) end
end
return {'created', ARGV[2]}
"""
)

# KEYS: job, queue stream, the model's start counter, the 4 observer keys
# ARGV: events channel, stream entry id, worker name, delivery limit, job id
# Returns {'run', spec, records, created} or {'skip', status}.
START = (
    _COMMON
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  -- Its record expired while it waited: it leaves the queue's counts now.
  if unwait(KEYS[4], KEYS[7], ARGV[5]) then redis.call('HINCRBY', KEYS[4], 'QUEUED', -1) end
  done(KEYS[2], ARGV[2])
  return {'skip', 'EXPIRED'}
end
if TERMINAL[status] then done(KEYS[2], ARGV[2]); return {'skip', status} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local at = now()
if attempts > tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'ended', string.format('%.6f', at), 'error_reason', 'dead_letter',
    'error_message', 'the job was delivered ' .. (attempts - 1) ..
    ' times without finishing (its workers died or timed out); it will not be retried')
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  enter(KEYS[1], 'FAILED', at, 4)
  done(KEYS[2], ARGV[2])
  return {'skip', 'DEAD_LETTER'}
end
if status == 'QUEUED' then
  redis.call('HSET', KEYS[1], 'started', string.format('%.6f', at),
    'start_seq', redis.call('INCR', KEYS[3]))
  enter(KEYS[1], 'RUNNING', at, 4)
end
redis.call('HSET', KEYS[1], 'worker', ARGV[3], 'attempt_started', string.format('%.6f', at))
local job = redis.call('HMGET', KEYS[1], 'spec', 'records', 'created', 'submitter')
return {'run', job[1], job[2], job[3], job[4]}
"""
)

# KEYS: job, queue stream, the 4 observer keys
# ARGV: events channel, stream entry id, final status, result json, error reason,
#       error message, ttl seconds
# Returns the job's status afterwards.
FINISH = (
    _COMMON
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'RUNNING' then done(KEYS[2], ARGV[2]); return status or 'EXPIRED' end
local at = now()
local began = tonumber(redis.call('HGET', KEYS[1], 'attempt_started') or at)
redis.call('HSET', KEYS[1], 'ended', string.format('%.6f', at),
  'run_seconds', string.format('%.6f', at - began),
  'result', ARGV[4], 'error_reason', ARGV[5], 'error_message', ARGV[6])
enter(KEYS[1], ARGV[3], at, 3)
redis.call('EXPIRE', KEYS[1], ARGV[7])
done(KEYS[2], ARGV[2])
return ARGV[3]
"""
)

# KEYS: job, the 4 observer keys
# ARGV: events channel, message
# Returns the job's status afterwards, or 'EXPIRED'.
CANCEL = (
    _COMMON
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'EXPIRED' end
if TERMINAL[status] then return status end
redis.call('HSET', KEYS[1], 'ended', string.format('%.6f', now()),
  'error_reason', 'cancelled', 'error_message', ARGV[2])
enter(KEYS[1], 'CANCELLED', now(), 2)
return 'CANCELLED'
"""
)

# KEYS: job, queue stream
# ARGV: events channel, stream entry id, worker name, idle milliseconds
# A draining worker hands a job back: the attempt does not count, and the
# entry is marked idle so that another worker claims it at once.
RELEASE = (
    _COMMON
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'RUNNING' then redis.call('HINCRBY', KEYS[1], 'attempts', -1) end
redis.call('XCLAIM', KEYS[2], 'workers', ARGV[3], 0, ARGV[2], 'IDLE', ARGV[4], 'JUSTID')
return status or 'EXPIRED'
"""
)

# KEYS: job
# ARGV: events channel, children json
# A consensus job's runner records its children's progress; watchers of the
# parent see it as a new revision of the job.
PROGRESS = _COMMON + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'EXPIRED' end
redis.call('HSET', KEYS[1], 'children', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'rev', 1)
redis.call('PUBLISH', ARGV[1], redis.call('HGET', KEYS[1], 'id') .. ' ' .. status)
return status
"""

# KEYS: the model's counts and waiting jobs (observer keys 1 and 4), then the job
#       key of each id in ARGV
# ARGV: ids of the model's jobs submitted longer ago than the job TTL
# A job whose record expired while it waited leaves the queue's counts here
# (the scheduler's duties), even when no worker ever reaches its stream entry;
# START does the same for an entry a worker does reach. Returns how many left.
# A job still waiting by the hash but no longer QUEUED left the queue under a
# script that kept no waiting hash (a worker of an earlier release, during a
# rolling upgrade): its records leave too, its QUEUED count having left then.
FORGET_EXPIRED = (
    _COMMON
    + """
local forgotten = 0
for i, id in ipairs(ARGV) do
  local status = redis.call('HGET', KEYS[i + 2], 'status')
  if not status then
    if unwait(KEYS[1], KEYS[2], id) then
      redis.call('HINCRBY', KEYS[1], 'QUEUED', -1)
      forgotten = forgotten + 1
    end
  elseif status ~= 'QUEUED' then
    unwait(KEYS[1], KEYS[2], id)
  end
end
return forgotten
"""
)
