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

# KEYS: the version's queue stream, the model index, the 6 observer keys, the
#       version's workers, the model's all-versions workers, the model's
#       versions; on a single server (never a cluster, where they live in other
#       slots) also the index of all jobs, the set of known models and, for
#       consensus jobs, the set of consensus models; then, for each submitter,
#       its budget, its budget on this model and, on a single server, its index;
#       then each job's key and, for a job with an idempotency key, where that
#       key names its job
# ARGV: how many shared keys come first, how many keys each submitter has, ttl
#       seconds, the admission limits (scheduler.admission, without the record
#       count), model, version, spec, route, rollout id; then the jobs, as three
#       strings rather than several arguments each (packing arguments is most of
#       a client's cost): a line per job 'id submitter records input-length
#       key-length fingerprint input_sha256 input_bytes parent' (submitter: its
#       number among the submitters below, from 1; fingerprint '' without an
#       idempotency key; input_sha256 and input_bytes '' for an input audited
#       inline; parent '' for none), every job's records JSON one after another,
#       and every job's idempotency key one after another (lengths in bytes);
#       then the submitters' names
# Returns {the server's time, the newest last-seen time of a worker of the
# version or '', then three values per job: 'created', its creation time, the
# jobs ahead of it | 'duplicate'|'conflict', the earlier job's id, '' |
# 'limited', the bucket (scheduler.admission.Limit), seconds until it admits
# the job | 'full', 'queued_jobs'|'queued_records', how many wait}. The place
# rides in the same round trip, so a submission learns its queue position and
# whether any worker is there for free.
SUBMIT = (
    _PLACE
    + """
local shared, per_user, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local model, version, spec, route, rollout = ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local counts, audit, waiting, vcounts = KEYS[3], KEYS[5], KEYS[6], KEYS[7]
local t = redis.call('TIME')
local at = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_jobs, max_records = tonumber(ARGV[8]), tonumber(ARGV[9])
local queued, queued_records = 0, 0
if max_jobs > 0 or max_records > 0 then
  local c = redis.call('HMGET', counts, 'QUEUED', 'QUEUED_RECORDS')
  queued, queued_records = tonumber(c[1] or '0'), tonumber(c[2] or '0')
end
-- Token buckets, refilled continuously: one token a job, one a record.
local function refill(tokens, burst, rate, since)
  local elapsed = math.max(at - (tonumber(since) or at), 0)
  return math.min(burst, (tonumber(tokens) or burst) + elapsed * rate)
end
local jobs_rate, jobs_burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local records_rate, records_burst = tonumber(ARGV[6]), tonumber(ARGV[7])
local model_rate, model_burst = tonumber(ARGV[10]), tonumber(ARGV[11])
local users = {}
for u = 1, #ARGV - 19 do
  local base = shared + (u - 1) * per_user
  local s = {name = ARGV[19 + u], budget = KEYS[base + 1], model_budget = KEYS[base + 2],
    index = KEYS[base + 3], indexed = {}}
  if jobs_rate > 0 or records_rate > 0 then
    local b = redis.call('HMGET', s.budget, 'jobs', 'records', 'at')
    s.jobs = refill(b[1], jobs_burst, jobs_rate, b[3])
    s.records = refill(b[2], records_burst, records_rate, b[3])
  end
  if model_rate > 0 then
    local b = redis.call('HMGET', s.model_budget, 'jobs', 'at')
    s.model_jobs = refill(b[1], model_burst, model_rate, b[2])
  end
  users[u] = s
end
-- The checks in order: a full queue, then each bucket. Every one is checked
-- before any is charged, so a refusal costs nothing.
local function refusal(cost, s)
  if max_jobs > 0 and queued >= max_jobs then return {'full', 'queued_jobs', tostring(queued)} end
  if max_records > 0 and queued_records + cost > max_records then
    return {'full', 'queued_records', tostring(queued_records)}
  end
  if jobs_rate > 0 and s.jobs < 1 then
    return {'limited', 'user_jobs', string.format('%.3f', (1 - s.jobs) / jobs_rate)}
  end
  if records_rate > 0 and s.records < cost then
    return {'limited', 'user_records', string.format('%.3f', (cost - s.records) / records_rate)}
  end
  if model_rate > 0 and s.model_jobs < 1 then
    return {'limited', 'model_user_jobs', string.format('%.3f', (1 - s.model_jobs) / model_rate)}
  end
end
local function earlier(idem, fp)
  local existing = redis.call('GET', idem)
  if not existing then return nil end
  local sep = string.find(existing, '|', 1, true)
  local id = string.sub(existing, 1, sep - 1)
  if string.sub(existing, sep + 1) ~= fp then return {'conflict', id, ''} end
  return {'duplicate', id, ''}
end
local out = {string.format('%.6f', at), ''}
-- Every other waiting job of the queue came first: no rank to look up for a new job.
local ahead = redis.call('ZCARD', waiting)
local entered, indexed = {}, {}
local created, created_records, k = 0, 0, shared + #users * per_user + 1
local at_input, at_key = 1, 1
for line in string.gmatch(ARGV[17], '[^\\n]+') do
  local id, u, count, size, key_size, fp, sha, bytes, parent = string.match(line,
    '^(%S+) (%d+) (%d+) (%d+) (%d+) (%S*) (%S*) (%S*) (%S*)$')
  local input = string.sub(ARGV[18], at_input, at_input + size - 1)
  local idem_key = string.sub(ARGV[19], at_key, at_key + key_size - 1)
  at_input, at_key = at_input + size, at_key + key_size
  local s, job, idem = users[tonumber(u)], KEYS[k], nil
  k = k + 1
  if fp ~= '' then idem = KEYS[k]; k = k + 1 end
  local cost = tonumber(count)
  local verdict = (idem and earlier(idem, fp)) or refusal(cost, s)
  if not verdict then
    -- A version's first job makes its queue and its workers' group, so that workers
    -- reading every version find it ready (a worker makes it too, if it comes first).
    if created == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
      redis.pcall('XGROUP', 'CREATE', KEYS[1], 'workers', '0', 'MKSTREAM')
      -- keys.QUEUES_CHANNEL: workers serving every version start reading it now.
      redis.call('PUBLISH', 'mg:queues', model .. '@' .. version)
    end
    if s.jobs then s.jobs = s.jobs - 1; s.records = s.records - cost end
    if s.model_jobs then s.model_jobs = s.model_jobs - 1 end
    s.created = true
    queued, queued_records = queued + 1, queued_records + cost
    -- Distinct creation times a microsecond apart, in order, so that the jobs'
    -- places in the waiting index follow their order in the queue.
    local when = string.format('%.6f', at + created / 1000000)
    -- A new job enters QUEUED as the transition scripts' `enter` would make it, and
    -- is observed as their `observed` would (audit entry, counts, waiting index).
    -- No event is published: nobody can watch a job whose id has not been returned.
    redis.call('HSET', job, 'id', id, 'model', model, 'version', version, 'submitter', s.name,
      'record_count', count, 'records', input, 'spec', spec, 'idem_key', idem_key,
      'parent', parent, 'queue', version, 'route', route, 'rollout', rollout, 'created', when,
      'attempts', 0, 'rev', 1, 'status', 'QUEUED', 'transitions', 'QUEUED@' .. when .. ';')
    local entry = {'job', id, 'model', model, 'version', version, 'user', s.name,
      'status', 'QUEUED', 'time', when, 'parent', parent, 'route', route, 'rollout', rollout}
    if sha ~= '' then
      redis.call('HSET', job, 'input_sha256', sha, 'input_bytes', bytes)
      entry[#entry + 1] = 'input_sha256'; entry[#entry + 1] = sha
      entry[#entry + 1] = 'input_bytes'; entry[#entry + 1] = bytes
    else
      entry[#entry + 1] = 'input'; entry[#entry + 1] = input
    end
    redis.call('EXPIRE', job, ttl)
    redis.call('XADD', audit, '*', unpack(entry))
    redis.call('XADD', KEYS[1], '*', 'job', id)
    if idem then redis.call('SET', idem, id .. '|' .. fp, 'EX', ttl) end
    entered[#entered + 1] = when; entered[#entered + 1] = id .. '|' .. count  -- lua.waiter
    indexed[#indexed + 1] = when; indexed[#indexed + 1] = id
    s.indexed[#s.indexed + 1] = when; s.indexed[#s.indexed + 1] = id
    verdict = {'created', when, tostring(ahead + created)}
    created, created_records = created + 1, created_records + cost
  end
  out[#out + 1] = verdict[1]; out[#out + 1] = verdict[2]; out[#out + 1] = verdict[3]
end
local function zadd(key, pairs)
  for i = 1, #pairs, 1000 do
    redis.call('ZADD', key, unpack(pairs, i, math.min(i + 999, #pairs)))
  end
end
if created > 0 then
  -- What `observed` does per job, once for all: the counts and the waiting index.
  redis.call('HINCRBY', counts, 'QUEUED', created)
  redis.call('HINCRBY', vcounts, 'QUEUED', created)
  redis.call('HINCRBY', counts, 'QUEUED_RECORDS', created_records)
  zadd(waiting, entered)
  zadd(KEYS[2], indexed)
  redis.call('SADD', KEYS[11], version)
  for _, s in ipairs(users) do
    if s.created and s.jobs then
      redis.call('HSET', s.budget, 'jobs', string.format('%.6f', s.jobs),
        'records', string.format('%.6f', s.records), 'at', string.format('%.6f', at))
      redis.call('EXPIRE', s.budget, 3600)
    end
    if s.created and s.model_jobs then
      redis.call('HSET', s.model_budget, 'jobs', string.format('%.6f', s.model_jobs),
        'at', string.format('%.6f', at))
      redis.call('EXPIRE', s.model_budget, 3600)
    end
    if s.created and per_user > 2 then  -- a single server: each submitter's index too
      zadd(s.index, s.indexed)
      redis.call('EXPIRE', s.index, ttl)
    end
  end
  if shared > 11 then
    -- A single server: the indexes in other slots too, atomically with the jobs.
    zadd(KEYS[12], indexed)
    redis.call('SADD', KEYS[13], model)
    if shared > 13 then redis.call('SADD', KEYS[14], model) end
  end
end
out[2] = newest_seen(KEYS[9], KEYS[10])
return out
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
