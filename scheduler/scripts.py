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

from scheduler.lua import COMMON as _COMMON
from scheduler.lua import PLACE as _PLACE

# KEYS: job, the version's queue stream, idempotency key, model index, the 6
#       observer keys, the submitter's budget, the submitter's budget on this
#       model, the version's workers, the model's all-versions workers, the
#       model's versions; on a single server (never on a cluster, where they
#       live in other slots) also the submitter's index, the index of all jobs,
#       the set of known models and, for a consensus job, the set of consensus models
# ARGV: events channel, job id, ttl seconds, fingerprint, has-idempotency ('1'|'0'),
#       the admission limits (scheduler.admission: the user's jobs per second,
#       jobs burst, records per second, records burst; the model's most queued
#       jobs, most queued records, each user's jobs per second and burst on it;
#       0 for none), the job's record count and its version, then the job's hash
#       fields as name/value pairs
# Returns {'created', job id, then the job's place as _PLACE gives it},
# {'duplicate'|'conflict', job id}, or, refused, {'limited', the bucket
# (scheduler.queue.Limit), seconds until it admits this job} / {'full',
# 'queued_jobs'|'queued_records', how many wait}. The place rides in the same
# round trip, so a submission learns its queue position and whether any worker
# is there for free.
SUBMIT = (
    _COMMON
    + _PLACE
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
  local b = redis.call('HMGET', KEYS[11], 'jobs', 'records', 'at')
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
  local b = redis.call('HMGET', KEYS[12], 'jobs', 'at')
  model_jobs = refill(b[1], model_burst, model_rate, b[2])
  if model_jobs < 1 then
    return {'limited', 'model_user_jobs', string.format('%.3f', (1 - model_jobs) / model_rate)}
  end
end
if jobs then
  redis.call('HSET', KEYS[11], 'jobs', string.format('%.6f', jobs - 1),
    'records', string.format('%.6f', records - cost), 'at', string.format('%.6f', at))
  redis.call('EXPIRE', KEYS[11], 3600)
end
if model_jobs then
  redis.call('HSET', KEYS[12], 'jobs', string.format('%.6f', model_jobs - 1),
    'at', string.format('%.6f', at))
  redis.call('EXPIRE', KEYS[12], 3600)
end
-- A new job enters QUEUED as `enter` would make it, written in one HSET and
-- observed from the fields in hand rather than read back. No event is published:
-- nobody can watch a job whose id has not been returned yet.
local created = string.format('%.6f', at)
local fields, named = {}, {created = created, attempts = '0'}
for i = 16, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]; fields[#fields + 1] = ARGV[i + 1]
  named[ARGV[i]] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], 'created', created, 'attempts', 0, 'rev', 1, 'status', 'QUEUED',
  'transitions', 'QUEUED@' .. created .. ';', unpack(fields))
local f = {}
for i, name in ipairs(OBSERVED) do f[i] = named[name] end
observed(f, nil, 'QUEUED', at, 5)
redis.call('EXPIRE', KEYS[1], ARGV[3])
-- A version's first job makes its queue and its workers' group, so that workers
-- reading every version find it ready (a worker makes it too, if it comes first).
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.pcall('XGROUP', 'CREATE', KEYS[2], 'workers', '0', 'MKSTREAM')
  -- keys.QUEUES_CHANNEL: workers serving every version start reading it now.
  redis.call('PUBLISH', 'mg:queues', named.model .. '@' .. ARGV[15])
end
redis.call('SADD', KEYS[15], ARGV[15])
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[3], ARGV[2] .. '|' .. ARGV[4], 'EX', ARGV[3])
end
redis.call('ZADD', KEYS[4], at, ARGV[2])
if #KEYS > 15 then
  -- A single Redis server (not a cluster): the indexes in other slots are
  -- written here too, atomically with the job, instead of by separate commands.
  redis.call('ZADD', KEYS[16], at, ARGV[2])
  redis.call('EXPIRE', KEYS[16], ARGV[3])
  redis.call('ZADD', KEYS[17], at, ARGV[2])
  redis.call('SADD', KEYS[18], named.model)
  if KEYS[19] then redis.call('SADD', KEYS[19], named.model) end
end
-- Every other waiting job of its queue came first: no rank to look up for a new job.
return {'created', ARGV[2], redis.call('ZCARD', KEYS[8]) - 1, newest_seen(KEYS[13], KEYS[14]),
  string.format('%.6f', at)}
"""
)

# KEYS: job, queue stream, the model's start counter, the 6 observer keys
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

# KEYS: job, queue stream, the 6 observer keys
# ARGV: events channel, stream entry id, final status, result json, error reason,
#       error message, ttl seconds, how many records failed (their result an error)
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
  'result', ARGV[4], 'error_reason', ARGV[5], 'error_message', ARGV[6],
  'record_errors', ARGV[8] or '0')
enter(KEYS[1], ARGV[3], at, 3)
redis.call('EXPIRE', KEYS[1], ARGV[7])
done(KEYS[2], ARGV[2])
return ARGV[3]
"""
)

# KEYS: job, the 6 observer keys
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

# KEYS: the waiting index of the job's queue, the workers of its version, the
#       model's all-versions workers
# ARGV: the job's member of the waiting index (its id and record count: see waiter)
# A QUEUED job's place (see _PLACE), for GetJob and WatchJob: read only for a
# job that is QUEUED, so that reading any other job costs what it always did.
PLACE = (
    _COMMON
    + _PLACE
    + """
return place(KEYS[1], KEYS[2], KEYS[3], ARGV[1], now())
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

# KEYS: the model's counts, a queue's waiting index and that version's counts
#       (observer keys 1, 4 and 5), then the job key of each member in ARGV
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
  local status = redis.call('HGET', KEYS[i + 3], 'status')
  if not status then
    if unwait(KEYS[1], KEYS[2], member) then
      redis.call('HINCRBY', KEYS[1], 'QUEUED', -1)
      redis.call('HINCRBY', KEYS[3], 'QUEUED', -1)
      forgotten = forgotten + 1
    end
  elseif status ~= 'QUEUED' then
    unwait(KEYS[1], KEYS[2], member)
  end
end
return forgotten
"""
)
