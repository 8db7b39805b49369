"""Many jobs of one model version in one script call: the SUBMIT_MANY script, its
keys and arguments, and its reply read as one outcome per job.

A SubmitJobs call of 10,000 jobs would cost 10,000 SUBMIT scripts (scheduler.scripts),
each reading the clock, the queue's counts, the caller's token buckets and the
version's workers again, and each observing its job through the job's own hash.
SUBMIT_MANY does the same work for a group of jobs that share a model, a
version, a submitter and a route: what they share is read and written once
(the clock, the counts, the buckets, the queue's existence, the indexes, the
place), and each job costs its own writes only: its hash, its audit entry, its
queue entry and, with an idempotency key, that key. The result is the same as
the group's jobs submitted one after another by SUBMIT: each job is checked
against its idempotency key and the admission limits in order, as the jobs
before it left them, and is created, refused or named a duplicate on its own.

Two differences, both invisible to callers. The jobs of one call get distinct
creation times a microsecond apart from the call's clock reading, in order, so
that their places in the waiting index follow their order in the queue (the
script runs far longer than that per job, so no next call's time comes before
them). And no status event is published for a new job: only the watchers of a
job listen for its events, and nobody can watch a job whose id has not been
returned yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from redis.commands.core import AsyncScript

from scheduler import keys
from scheduler.admission import NO_LIMITS, AdmissionLimits, Limit
from scheduler.batch import Command, ScriptCall
from scheduler.job import JobSpec
from scheduler.lua import PLACE as _PLACE
from scheduler.settings import QueueSettings
from scheduler.submission import Submission, SubmitOutcome, fingerprint

MAX_JOBS_PER_SCRIPT = 500
"""Jobs one script call submits: a script blocks the Redis server while it runs, so a
large group goes as several calls (in one round trip), a few milliseconds each."""

_SHARED_KEYS = 13

# KEYS: the version's queue stream, the model index, the 6 observer keys, the
#       submitter's budget, the submitter's budget on this model, the version's
#       workers, the model's all-versions workers, the model's versions; on a
#       single server (never a cluster) also the submitter's index, the index of
#       all jobs, the set of known models and, for consensus jobs, the set of
#       consensus models; then each job's key and, for a job with an idempotency
#       key, where that key names its job
# ARGV: how many shared keys come first, ttl seconds, the admission limits
#       (SUBMIT's, without the record count), model, version, submitter, spec,
#       route, rollout id; then the jobs, as three strings rather than several
#       arguments each (packing arguments is most of a client's cost): a line per
#       job 'id records input-length key-length fingerprint input_sha256 input_bytes'
#       (fingerprint '' without an idempotency key; the last two '' for an input
#       audited inline), every job's records JSON one after another, and every
#       job's idempotency key one after another (lengths in bytes)
# Returns {the server's time, the newest last-seen time of a worker of the
# version or '', then three values per job: 'created', its creation time, the
# jobs ahead of it | 'duplicate'|'conflict', the earlier job's id, '' |
# 'limited', the bucket, seconds until it admits the job | 'full',
# 'queued_jobs'|'queued_records', how many wait}.
SUBMIT_MANY = (
    _PLACE
    + """
local shared, ttl = tonumber(ARGV[1]), ARGV[2]
local model, version, user, spec, route, rollout =
  ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15], ARGV[16]
local t = redis.call('TIME')
local at = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_jobs, max_records = tonumber(ARGV[7]), tonumber(ARGV[8])
local queued, queued_records = 0, 0
if max_jobs > 0 or max_records > 0 then
  local c = redis.call('HMGET', KEYS[3], 'QUEUED', 'QUEUED_RECORDS')
  queued, queued_records = tonumber(c[1] or '0'), tonumber(c[2] or '0')
end
local function refill(tokens, burst, rate, since)
  local elapsed = math.max(at - (tonumber(since) or at), 0)
  return math.min(burst, (tonumber(tokens) or burst) + elapsed * rate)
end
local jobs_rate, jobs_burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local records_rate, records_burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local model_rate, model_burst = tonumber(ARGV[9]), tonumber(ARGV[10])
local jobs, records, model_jobs
if jobs_rate > 0 or records_rate > 0 then
  local b = redis.call('HMGET', KEYS[9], 'jobs', 'records', 'at')
  jobs = refill(b[1], jobs_burst, jobs_rate, b[3])
  records = refill(b[2], records_burst, records_rate, b[3])
end
if model_rate > 0 then
  local b = redis.call('HMGET', KEYS[10], 'jobs', 'at')
  model_jobs = refill(b[1], model_burst, model_rate, b[2])
end
-- SUBMIT's checks, in its order, against what the jobs before this one left.
local function refusal(cost)
  if max_jobs > 0 and queued >= max_jobs then return {'full', 'queued_jobs', tostring(queued)} end
  if max_records > 0 and queued_records + cost > max_records then
    return {'full', 'queued_records', tostring(queued_records)}
  end
  if jobs_rate > 0 and jobs < 1 then
    return {'limited', 'user_jobs', string.format('%.3f', (1 - jobs) / jobs_rate)}
  end
  if records_rate > 0 and records < cost then
    return {'limited', 'user_records', string.format('%.3f', (cost - records) / records_rate)}
  end
  if model_rate > 0 and model_jobs < 1 then
    return {'limited', 'model_user_jobs', string.format('%.3f', (1 - model_jobs) / model_rate)}
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
local ahead = redis.call('ZCARD', KEYS[6])
local waiting, indexed = {}, {}
local created, created_records, k = 0, 0, shared + 1
local at_input, at_key = 1, 1
for line in string.gmatch(ARGV[17], '[^\\n]+') do
  local id, count, size, key_size, fp, sha, bytes =
    string.match(line, '^(%S+) (%d+) (%d+) (%d+) (%S*) (%S*) (%S*)$')
  local input = string.sub(ARGV[18], at_input, at_input + size - 1)
  local idem_key = string.sub(ARGV[19], at_key, at_key + key_size - 1)
  at_input, at_key = at_input + size, at_key + key_size
  local job, idem = KEYS[k], nil
  k = k + 1
  if fp ~= '' then idem = KEYS[k]; k = k + 1 end
  local cost = tonumber(count)
  local verdict = (idem and earlier(idem, fp)) or refusal(cost)
  if not verdict then
    if created == 0 and redis.call('EXISTS', KEYS[1]) == 0 then
      redis.pcall('XGROUP', 'CREATE', KEYS[1], 'workers', '0', 'MKSTREAM')
      redis.call('PUBLISH', 'mg:queues', model .. '@' .. version)  -- keys.QUEUES_CHANNEL
    end
    if jobs then jobs = jobs - 1; records = records - cost end
    if model_jobs then model_jobs = model_jobs - 1 end
    queued, queued_records = queued + 1, queued_records + cost
    local when = string.format('%.6f', at + created / 1000000)
    redis.call('HSET', job, 'id', id, 'model', model, 'version', version, 'submitter', user,
      'record_count', count, 'records', input, 'spec', spec, 'idem_key', idem_key,
      'parent', '', 'queue', version, 'route', route, 'rollout', rollout, 'created', when,
      'attempts', 0, 'rev', 1, 'status', 'QUEUED', 'transitions', 'QUEUED@' .. when .. ';')
    local entry = {'job', id, 'model', model, 'version', version, 'user', user,
      'status', 'QUEUED', 'time', when, 'parent', '', 'route', route, 'rollout', rollout}
    if sha ~= '' then
      redis.call('HSET', job, 'input_sha256', sha, 'input_bytes', bytes)
      entry[#entry + 1] = 'input_sha256'; entry[#entry + 1] = sha
      entry[#entry + 1] = 'input_bytes'; entry[#entry + 1] = bytes
    else
      entry[#entry + 1] = 'input'; entry[#entry + 1] = input
    end
    redis.call('EXPIRE', job, ttl)
    redis.call('XADD', KEYS[5], '*', unpack(entry))
    redis.call('XADD', KEYS[1], '*', 'job', id)
    if idem then redis.call('SET', idem, id .. '|' .. fp, 'EX', ttl) end
    waiting[#waiting + 1] = when; waiting[#waiting + 1] = id .. '|' .. count
    indexed[#indexed + 1] = when; indexed[#indexed + 1] = id
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
  -- What SUBMIT's observe does per job, once for all: the counts and the waiting index.
  redis.call('HINCRBY', KEYS[3], 'QUEUED', created)
  redis.call('HINCRBY', KEYS[7], 'QUEUED', created)
  redis.call('HINCRBY', KEYS[3], 'QUEUED_RECORDS', created_records)
  zadd(KEYS[6], waiting)
  zadd(KEYS[2], indexed)
  if jobs then
    redis.call('HSET', KEYS[9], 'jobs', string.format('%.6f', jobs),
      'records', string.format('%.6f', records), 'at', string.format('%.6f', at))
    redis.call('EXPIRE', KEYS[9], 3600)
  end
  if model_jobs then
    redis.call('HSET', KEYS[10], 'jobs', string.format('%.6f', model_jobs),
      'at', string.format('%.6f', at))
    redis.call('EXPIRE', KEYS[10], 3600)
  end
  redis.call('SADD', KEYS[13], version)
  if shared > 13 then
    -- A single server: the indexes in other slots too, as SUBMIT writes them there.
    zadd(KEYS[14], indexed)
    redis.call('EXPIRE', KEYS[14], ttl)
    zadd(KEYS[15], indexed)
    redis.call('SADD', KEYS[16], model)
    if shared > 16 then redis.call('SADD', KEYS[17], model) end
  end
end
out[2] = newest_seen(KEYS[11], KEYS[12])
return out
"""
)


@dataclass(frozen=True)
class JobGroup:
    """What the jobs of one script call share: one model version, one submitter,
    one route, one set of admission limits."""

    model: str
    version: str
    requested_version: str
    """The version the caller named ('' for none): part of each job's fingerprint."""
    submitter: str
    spec: JobSpec
    limits: AdmissionLimits = NO_LIMITS
    route: str = ""
    rollout_id: str = ""


class GroupJob(NamedTuple):
    """One job of a group: its records (and their JSON) and its idempotency key.
    (A tuple: one is made for every job, and a tuple is the cheapest to make.)"""

    records: list[dict[str, Any]]
    records_json: str
    idempotency_key: str = ""


class Queued(NamedTuple):
    """A job the script created: QUEUED since `created` (Redis time), with
    `jobs_ahead` jobs before it in its version's queue."""

    job_id: str
    created: float
    jobs_ahead: int


@dataclass(frozen=True)
class GroupReply:
    """Each job's outcome, in the group's order, and what their places share."""

    results: list[Queued | Submission]
    """Queued for a created job; for any other outcome the Submission SUBMIT gives."""
    worker_seen: float | None
    """When a worker of the version (or of all the model's versions) last announced itself."""
    now: float
    """Redis time when the script ran."""


class GroupSubmission:
    """One group's script calls, and their replies read back."""

    def __init__(
        self, group: JobGroup, jobs: Sequence[GroupJob], cluster: bool, settings: QueueSettings
    ) -> None:
        self.group = group
        self.jobs = jobs
        self.ids = keys.new_job_ids(group.model, len(jobs))
        self._shard = keys.shard_of_model(group.model)
        self._cluster = cluster
        self._settings = settings

    def calls(self, script: AsyncScript) -> list[ScriptCall]:
        """The script calls that submit the group, MAX_JOBS_PER_SCRIPT jobs each."""
        shared, head = self._shared_keys(), self._shared_args()
        calls = []
        for start in range(0, len(self.jobs), MAX_JOBS_PER_SCRIPT):
            job_keys, lines = list(shared), []
            inputs: list[str] = []
            idempotency: list[str] = []
            for index in range(start, min(start + MAX_JOBS_PER_SCRIPT, len(self.jobs))):
                lines.append(self._add_job(index, job_keys, inputs, idempotency))
            args = [*head, "\n".join(lines), "".join(inputs), "".join(idempotency)]
            calls.append(ScriptCall(script, keys=job_keys, args=args))
        return calls

    def _shared_keys(self) -> list[str]:
        model, version, user = self.group.model, self.group.version, self.group.submitter
        out = [
            keys.queue(model, version),
            keys.model_jobs(model),
            *keys.observer_keys(model, version),
            keys.user_budget(user, model if self._cluster else None),
            keys.user_model_budget(user, model),
            keys.version_workers(model, version),
            keys.version_workers(model, keys.ALL_VERSIONS),
            keys.versions(model),
        ]
        if not self._cluster:
            out += [keys.user_jobs(user), keys.ALL_JOBS, keys.KNOWN_MODELS]
            if self.group.spec.consensus:
                out.append(keys.CONSENSUS_MODELS)
        return out

    def _shared_args(self) -> list[Any]:
        group, ttl = self.group, self._settings.job_ttl_s
        shared = _SHARED_KEYS if self._cluster else _SHARED_KEYS + 3 + group.spec.consensus
        # The record count is each job's own: it travels with the job.
        limits = group.limits.argv(0)[:-1]
        return [
            shared, ttl, *limits, group.model, group.version, group.submitter,
            group.spec.to_json(), group.route, group.rollout_id,
        ]  # fmt: skip

    def _add_job(
        self, index: int, job_keys: list[str], inputs: list[str], idempotency: list[str]
    ) -> str:
        """Adds the job's keys, records and idempotency key; returns its line."""
        job, job_id, group = self.jobs[index], self.ids[index], self.group
        job_keys.append(keys.job(job_id, self._shard))
        keyed, key_size = "", 0
        if job.idempotency_key:
            keyed = fingerprint(group.requested_version, job.records)
            job_keys.append(keys.idempotency(group.model, group.submitter, job.idempotency_key))
            idempotency.append(job.idempotency_key)
            key_size = _bytes(job.idempotency_key)
        inputs.append(job.records_json)
        size = _bytes(job.records_json)
        sha, audited = _audited_input(job.records_json, size, self._settings.audit_inline_bytes)
        return f"{job_id} {len(job.records)} {size} {key_size} {keyed} {sha} {audited}"

    def read(self, replies: Iterator[Any]) -> GroupReply:
        """The group's outcomes from its calls' replies, taken in order from `replies`."""
        results: list[Queued | Submission] = []
        seen: float | None = None
        now = 0.0
        for start in range(0, len(self.jobs), MAX_JOBS_PER_SCRIPT):
            reply = next(replies)
            now = float(reply[0])
            seen = float(reply[1]) if reply[1] else None
            for offset in range(2, len(reply), 3):
                job_id = self.ids[start + (offset - 2) // 3]
                results.append(
                    _outcome(job_id, reply[offset], reply[offset + 1], reply[offset + 2])
                )
        return GroupReply(results, seen, now)

    def index_commands(self, reply: GroupReply) -> list[Command]:
        """On a Redis Cluster: the created jobs' entries in the indexes of other slots."""
        created = [r for r in reply.results if isinstance(r, Queued)]
        if not created:
            return []
        ttl, user_jobs = self._settings.job_ttl_s, keys.user_jobs(self.group.submitter)
        scored = [v for r in created for v in (keys.time_of_job(r.job_id), r.job_id)]
        commands: list[Command] = [
            ("ZADD", user_jobs, *scored),
            ("EXPIRE", user_jobs, ttl),
            ("ZADD", keys.ALL_JOBS, *scored),
            ("SADD", keys.KNOWN_MODELS, self.group.model),
        ]
        if self.group.spec.consensus:
            commands.append(("SADD", keys.CONSENSUS_MODELS, self.group.model))
        return commands


def _outcome(job_id: str, kind: str, first: str, second: str) -> Queued | Submission:
    if kind == "created":
        return Queued(job_id, float(first), int(second))
    outcome = SubmitOutcome(kind)
    if outcome is SubmitOutcome.LIMITED:
        return Submission("", outcome, Limit(first), retry_after_s=float(second))
    if outcome is SubmitOutcome.FULL:
        return Submission("", outcome, Limit(first), queued=int(second))
    return Submission(first, outcome)  # the earlier job a reused key names


def _bytes(text: str) -> int:
    """Its length in UTF-8, the script's measure."""
    return len(text) if text.isascii() else len(text.encode())


def _audited_input(records_json: str, size: int, inline_bytes: int) -> tuple[str, str]:
    """('', '') for an input the audit entry carries; else its hash and size."""
    if size <= inline_bytes:
        return "", ""
    return hashlib.sha256(records_json.encode()).hexdigest(), str(size)
