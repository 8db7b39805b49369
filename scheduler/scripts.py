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
entering or leaving QUEUED enters or leaves the model's waiting index: its
place in the queue is its rank there, and the records of the jobs there are
summed in the counters (QUEUED_RECORDS, which admission limits). Those keys
(scheduler.keys.counts, finished, audit, waiting: the "observer keys") are
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
-- counts, finished, audit, waiting: the observer keys, KEYS[o] to KEYS[o + 3].
local function observe(job, before, status, at, o)
  local f = redis.call('HMGET', job, 'id', 'model', 'version', 'submitter', 'created',
    'started', 'attempt_started', 'records', 'input_sha256', 'input_bytes',
    'error_reason', 'error_message', 'attempts', 'worker', 'parent', 'record_count')
  local counts, finished, audit, waiting = KEYS[o], KEYS[o + 1], KEYS[o + 2], KEYS[o + 3]
  if before and ACTIVE[before] then redis.call('HINCRBY', counts, before, -1) end
  redis.call('HINCRBY', counts, status, 1)
  -- The waiting index is the ordered twin of the QUEUED counter: a job's place
  -- in the queue is its rank there, an O(log n) count.
  if before == 'QUEUED' then unwait(counts, waiting, waiter(f[1], f[16])) end
  if status == 'QUEUED' then
    redis.call('ZADD', waiting, at, waiter(f[1], f[16]))
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

# Where a QUEUED job stands: the jobs ahead of it in its model's waiting index
# (member: see waiter; the job's own score from ZSCORE, so no float is ever
# formatted in Lua) and
# when a worker serving the model last announced itself (see PRESENCE).
# Returns {jobs ahead or -1 if the job is not waiting, newest worker's last-seen
# time or '' if none, the server's time now}.
_PLACE = """
local function place(waiting, workers, member, at)
  local ahead = -1
  local score = redis.call('ZSCORE', waiting, member)
  if score then ahead = redis.call('ZCOUNT', waiting, '-inf', '(' .. score) end
  local newest = redis.call('ZREVRANGE', workers, 0, 0, 'WITHSCORES')
  return {ahead, newest[2] or '', string.format('%.6f', at)}
end
"""

# KEYS: job, queue stream, idempotency key, model index, the 4 observer keys, the
#       submitter's budget, the submitter's budget on this model, the model's
#       workers; on a single server (never on a cluster, where they live in other slots) also the
#       submitter's index, the index of all jobs, the set of known models and,
#       for a consensus job, the set of consensus models
# ARGV: events channel, job id, ttl seconds, fingerprint, has-idempotency ('1'|'0'),
#       the admission limits (scheduler.admission: the user's jobs per second,
#       jobs burst, records per second, records burst; the model's most queued
#       jobs, most queued records, each user's jobs per second and burst on it;
#       0 for none) and the job's record count, then the job's hash fields as
#       name/value pairs
# Returns {'created', job id, then the job's place as _PLACE gives it},
# {'duplicate'|'conflict', job id}, or, refused, {'limited', the bucket
# (scheduler.queue.Limit), seconds until it admits this job} / {'full',
# 'queued_jobs'|'queued_records', how many wait}. The place rides in the same
# round trip, so a submission learns its queue position and whether any worker
# is there for free.
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
if #KEYS > 11 then
  -- A single Redis server (not a cluster): the indexes in other slots are
  -- written here too, atomically with the job, instead of by separate commands.
  local model = redis.call('HGET', KEYS[1], 'model')
  redis.call('ZADD', KEYS[12], at, ARGV[2])
  redis.call('EXPIRE', KEYS[12], ARGV[3])
  redis.call('ZADD', KEYS[13], at, ARGV[2])
  redis.call('SADD', KEYS[14], model)
  if KEYS[15] then redis.call('SADD', KEYS[15], model) end
end
-- Every other waiting job came first: no rank to look up for a new job.
local newest = redis.call('ZREVRANGE', KEYS[11], 0, 0, 'WITHSCORES')
return {'created', ARGV[2], redis.call('ZCARD', KEYS[8]) - 1, newest[2] or '',
  string.format('%.6f', at)}
"""
)

# KEYS: job, queue stream, the model's start counter, the 4 observer keys
# ARGV: events channel, stream entry id, worker name, delivery limit
# Returns {'run', spec, records, created} or {'skip', status}. A job whose record
# expired while it waited leaves the queue's counts by FORGET_EXPIRED.
START = (
    _COMMON
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then done(KEYS[2], ARGV[2]); return {'skip', 'EXPIRED'} end
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

# KEYS: the model's waiting index, the model's workers
# ARGV: the job's member of the waiting index (its id and record count: see waiter)
# A QUEUED job's place (see _PLACE), for GetJob and WatchJob: read only for a
# job that is QUEUED, so that reading any other job costs what it always did.
PLACE = (
    _COMMON
    + _PLACE
    + """
return place(KEYS[1], KEYS[2], ARGV[1], now())
"""
)

# KEYS: the model's workers
# ARGV: worker name, seconds a silent worker's name is kept
# A worker announces that it serves the model, idle or busy; names not seen for
# the keep time are dropped, and the whole key goes with its last worker.
PRESENCE = (
    _COMMON
    + """
local at = now()
redis.call('ZADD', KEYS[1], at, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', at - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 'ok'
"""
)

# KEYS: the model's counts and waiting index (observer keys 1 and 4), then the job
#       key of each member in ARGV
# ARGV: members of the waiting index (see waiter) older than the job TTL
# A job whose record expired while it waited leaves the queue's counts and its
# place here (the scheduler's duties), whether or not a worker ever reaches its
# stream entry. Returns how many left.
# A job still in the index but no longer QUEUED left the queue under a script
# that kept no index (a worker of an earlier release, during a rolling
# upgrade): its records leave too, its QUEUED count having left then.
FORGET_EXPIRED = (
    _COMMON
    + """
local forgotten = 0
for i, member in ipairs(ARGV) do
  local status = redis.call('HGET', KEYS[i + 2], 'status')
  if not status then
    if unwait(KEYS[1], KEYS[2], member) then
      redis.call('HINCRBY', KEYS[1], 'QUEUED', -1)
      forgotten = forgotten + 1
    end
  elseif status ~= 'QUEUED' then
    unwait(KEYS[1], KEYS[2], member)
  end
end
return forgotten
"""
)
