"""The scheduler: owns the Redis protocol of job queues, every command of it.

Start at `queue.JobQueue` (submit, get, cancel, start, finish). keys.py names the
keys and their hash tags, scripts.py holds the Lua scripts that make each change
atomically, delivery.py is a worker's reading and claiming of a queue, events.py
the status events a watcher follows, and duties.py what `modelgw scheduler` runs.
"""
